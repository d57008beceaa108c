"""What the local fake venues share: serving on loopback, the driver, the command's knobs."""
