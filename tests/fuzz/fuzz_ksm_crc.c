/*
 * fuzz_ksm_crc.c — fuzz_ksm.c with the checksum (and size field) fixed up after each
 * mutation, so that the fuzzer explores the config, optimizer and tensor sections.
 */
#define FUZZ_FIX_CRC 1
#include "fuzz_ksm.c"
