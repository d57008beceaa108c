/* CRC32C (Castagnoli), the checksum of every capture record, for the compiled packer.
 *
 * pmt_crc32c(crc, p, n) extends ``crc`` over n bytes exactly as google_crc32c.extend does
 * (start from 0). x86-64 uses the SSE4.2 crc32 instruction when the CPU has it (checked once
 * at run time); elsewhere a slice-by-8 table does it. tests/capture/test_packer.py holds both
 * to google_crc32c.
 */
#ifndef PMTAPE_CRC32C_H
#define PMTAPE_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static uint32_t pmt_crc_tab[8][256];
static int pmt_crc_mode = -1; /* -1 not set up, 0 table, 1 hardware */

static uint32_t pmt_crc32c_sw(uint32_t crc, const unsigned char *p, size_t n) {
    uint32_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = pmt_crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        n--;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = pmt_crc_tab[7][w & 0xff] ^ pmt_crc_tab[6][(w >> 8) & 0xff] ^
            pmt_crc_tab[5][(w >> 16) & 0xff] ^ pmt_crc_tab[4][(w >> 24) & 0xff] ^
            pmt_crc_tab[3][(w >> 32) & 0xff] ^ pmt_crc_tab[2][(w >> 40) & 0xff] ^
            pmt_crc_tab[1][(w >> 48) & 0xff] ^ pmt_crc_tab[0][w >> 56];
        p += 8;
        n -= 8;
    }
#endif
    while (n--) c = pmt_crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t pmt_crc32c_hw(uint32_t crc,
                                                                 const unsigned char *p,
                                                                 size_t n) {
    uint64_t c = (uint32_t)~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
static int pmt_crc_has_hw(void) { return __builtin_cpu_supports("sse4.2"); }
#else
static uint32_t pmt_crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    return pmt_crc32c_sw(crc, p, n);
}
static int pmt_crc_has_hw(void) { return 0; }
#endif

/* Build the tables and pick the implementation; ``allow_hw`` 0 forces the table. */
static void pmt_crc_setup(int allow_hw) {
    uint32_t i, j, c;
    for (i = 0; i < 256; i++) {
        c = i;
        for (j = 0; j < 8; j++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        pmt_crc_tab[0][i] = c;
    }
    for (i = 0; i < 256; i++) {
        c = pmt_crc_tab[0][i];
        for (j = 1; j < 8; j++) {
            c = pmt_crc_tab[0][c & 0xff] ^ (c >> 8);
            pmt_crc_tab[j][i] = c;
        }
    }
    pmt_crc_mode = allow_hw && pmt_crc_has_hw() ? 1 : 0;
}

static inline uint32_t pmt_crc32c(uint32_t crc, const unsigned char *p, size_t n) {
    return pmt_crc_mode == 1 ? pmt_crc32c_hw(crc, p, n) : pmt_crc32c_sw(crc, p, n);
}

#endif
