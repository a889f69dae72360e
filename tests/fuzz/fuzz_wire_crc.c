/*
 * fuzz_wire_crc.c — fuzz_wire.c with the trailing CRC-32 written after each mutation (the
 * wire forms have no size field), so that the fuzzer gets past the checksum into the
 * fields of requests, records and verdicts.
 */
#define FUZZ_FIX_CRC 1
#include "fuzz_wire.c"
