"""Collection: sessions -> normalizer -> books -> snapshotter -> writer, per venue."""
