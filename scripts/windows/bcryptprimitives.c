/* ProcessPrng for Wine 8 (Debian 12), which lacks bcryptprimitives.dll: Rust's std (1.78+)
 * imports it for random numbers, so no Windows test binary starts without it. Real Windows
 * (10 and later) ships the DLL; this stand-in is only copied into the test Wine prefix
 * (scripts/windows.sh). RtlGenRandom is advapi32's SystemFunction036, the same generator. */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!RtlGenRandom(data, n)) {
            return FALSE;
        }
        data += n;
        len -= n;
    }
    return TRUE;
}
