// SwiftPM links Linux executables with `--defsym main=<Module>_main` and compiles them with that entry-point name,
// so libFuzzer's own `main` is never used. This trampoline is that `<Module>_main`: it hands control to libFuzzer's
// driver with the `LLVMFuzzerTestOneInput` defined in Swift (`@_cdecl`). Both symbols come from libclang_rt.fuzzer
// (linked by `-sanitize=fuzzer`) and the Swift module.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int EnvelopeFuzzer_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
