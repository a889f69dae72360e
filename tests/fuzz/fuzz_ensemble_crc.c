/*
 * fuzz_ensemble_crc.c — fuzz_ensemble.c with the file's and every member's checksum and
 * size fixed up after each mutation, so that the fuzzer reaches weights and members.
 */
#define FUZZ_FIX_CRC 1
#include "fuzz_ensemble.c"
