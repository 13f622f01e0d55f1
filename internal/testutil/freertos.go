package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// FreeRTOSPort is one of the kernel's GCC ports for Cortex-M, with the
// compiler flags of a CPU it runs on.
type FreeRTOSPort struct {
	Name  string   // the port's directory under portable/GCC
	CPU   []string // -mcpu and floating-point flags
	Files []string // the port's C files, relative to its directory
	// Define tells startup.c which names the port gives its handlers.
	Define string
	// FP: exceptions may stack the FPU context (a hard-float build).
	FP bool
	// RISCV: the port is portable/GCC/RISC-V, built with
	// riscv64-unknown-elf-gcc and picolibc, start_riscv.S and
	// board_riscv.ld (QEMU virt's RAM and CLINT) instead of startup.c and
	// board.ld; CPU are its -march/-mabi flags.
	RISCV bool
}

// FreeRTOSPorts are the ports the tests build, by short name.
var FreeRTOSPorts = map[string]FreeRTOSPort{
	"cm0":  {Name: "ARM_CM0", CPU: []string{"-mcpu=cortex-m0"}, Files: []string{"port.c", "portasm.c"}, Define: "FREERTOS_PORT_CM0"},
	"cm3":  {Name: "ARM_CM3", CPU: []string{"-mcpu=cortex-m3"}, Files: []string{"port.c"}},
	"cm4f": {Name: "ARM_CM4F", CPU: []string{"-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"}, Files: []string{"port.c"}, FP: true},
	"cm33": {Name: "ARM_CM33_NTZ/non_secure", CPU: []string{"-mcpu=cortex-m33", "-mfloat-abi=soft"}, Files: []string{"port.c", "portasm.c"}, Define: "FREERTOS_PORT_CM33"},
	// -misa-spec=2.2 keeps the CSR instructions in I (the port's csrr
	// needs them) with a plain -march, the one picolibc's multilibs are
	// named by (rv32imac_zicsr finds none).
	"rv32": {Name: "RISC-V", CPU: []string{"-march=rv32imac", "-misa-spec=2.2", "-mabi=ilp32"}, Files: []string{"port.c", "portASM.S"}, RISCV: true},
	"rv64": {Name: "RISC-V", CPU: []string{"-march=rv64imac", "-misa-spec=2.2", "-mabi=lp64", "-mcmodel=medany"}, Files: []string{"port.c", "portASM.S"}, RISCV: true},
}

// FreeRTOSApp is a FreeRTOS firmware for a test: the kernel from
// ../shared/corpora/FreeRTOS-Kernel, one port, the shared FreeRTOSConfig.h,
// startup.c (vector table) and board.ld (one 4 MiB RAM block with the stack
// at its top) from testutil's testdata, and the application's own sources.
type FreeRTOSApp struct {
	Port string   // a key of FreeRTOSPorts
	Opt  string   // -O0, -O2, -Os (default -O2)
	App  []string // the application's C files (absolute, or relative to the test's directory)
	// Defines override FreeRTOSConfig.h's settings and set the app's own
	// (NAME=VALUE, passed as -D).
	Defines []string
	// Linker replaces board.ld; LinkerArgs add -Wl options (--defsym).
	Linker     string
	LinkerArgs []string
	// Heap is the MemMang file (default heap_4.c).
	Heap string
}

// BuildFreeRTOS compiles app with -fstack-usage into dir (the .su files of
// kernel and app land there) and returns the ELF's path. It skips the test
// when the kernel corpus is absent, and needs arm-none-eabi-gcc.
func BuildFreeRTOS(t testing.TB, dir string, app FreeRTOSApp) string {
	t.Helper()
	kernel := Corpus(t, "FreeRTOS-Kernel")
	port, ok := FreeRTOSPorts[app.Port]
	if !ok {
		t.Fatalf("unknown FreeRTOS port %q", app.Port)
	}
	if port.RISCV {
		return buildFreeRTOSRISCV(t, dir, kernel, port, app)
	}
	cc := RequireTool(t, "arm-none-eabi-gcc")
	b := freertosBuild(t, dir, kernel, port, app, "startup.c", "board.ld")
	td, portDir, opt, linker, out, srcs := b.td, b.portDir, b.opt, b.linker, b.out, b.srcs
	args := []string{"-mthumb", opt, "-g", "-fstack-usage", "-ffunction-sections", "-fdata-sections",
		"--specs=nosys.specs", "-nostartfiles", "-Wl,--gc-sections",
		"-I", td, "-I", filepath.Join(kernel, "include"), "-I", portDir,
		"-T", linker, "-o", out}
	args = append(args, port.CPU...)
	if port.Define != "" {
		args = append(args, "-D"+port.Define)
	}
	if port.FP {
		args = append(args, "-DconfigENABLE_FPU=1")
	}
	for _, d := range app.Defines {
		args = append(args, "-D"+d)
	}
	for _, a := range app.LinkerArgs {
		args = append(args, "-Wl,"+a)
	}
	args = append(args, srcs...)
	Run(t, dir, cc, args...)
	return out
}

// freertosFiles are the parts of a FreeRTOS build both ports' builders
// share: the sources (startup, kernel, heap, port, application), the
// options and the output's path.
type freertosFiles struct {
	td, portDir, opt, linker, out string
	srcs                          []string
}

// freertosBuild collects app's sources and options, with startup and
// board (the default linker script) from testutil's testdata/freertos.
func freertosBuild(t testing.TB, dir, kernel string, port FreeRTOSPort, app FreeRTOSApp, startup, board string) freertosFiles {
	t.Helper()
	b := freertosFiles{td: testdataDir(t, "freertos"), opt: app.Opt, linker: app.Linker}
	if b.opt == "" {
		b.opt = "-O2"
	}
	heap := app.Heap
	if heap == "" {
		heap = "heap_4.c"
	}
	if b.linker == "" {
		b.linker = filepath.Join(b.td, board)
	}
	b.portDir = filepath.Join(kernel, "portable", "GCC", port.Name)
	b.srcs = []string{filepath.Join(b.td, startup)}
	for _, f := range []string{"tasks.c", "list.c", "queue.c", "timers.c"} {
		b.srcs = append(b.srcs, filepath.Join(kernel, f))
	}
	b.srcs = append(b.srcs, filepath.Join(kernel, "portable", "MemMang", heap))
	for _, f := range port.Files {
		b.srcs = append(b.srcs, filepath.Join(b.portDir, f))
	}
	for _, f := range app.App {
		if !filepath.IsAbs(f) {
			wd, _ := os.Getwd()
			f = filepath.Join(wd, f)
		}
		b.srcs = append(b.srcs, f)
	}
	b.out = filepath.Join(dir, "freertos-"+app.Port+strings.TrimPrefix(b.opt, "-")+".elf")
	return b
}

// FreeRTOSBoard is the path of one of the boards' linker scripts in
// testutil's testdata/freertos ("" for the default, board.ld).
func FreeRTOSBoard(t testing.TB, name string) string {
	t.Helper()
	if name == "" {
		name = "board.ld"
	}
	return filepath.Join(testdataDir(t, "freertos"), name)
}

// testdataDir is testutil's own testdata/NAME, wherever the calling test runs.
func testdataDir(t testing.TB, name string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate testutil's source directory")
	}
	return filepath.Join(filepath.Dir(file), "testdata", name)
}

// buildFreeRTOSRISCV is BuildFreeRTOS for the RISC-V port.
func buildFreeRTOSRISCV(t testing.TB, dir, kernel string, port FreeRTOSPort, app FreeRTOSApp) string {
	t.Helper()
	cc := RequireTool(t, "riscv64-unknown-elf-gcc")
	b := freertosBuild(t, dir, kernel, port, app, "start_riscv.S", "board_riscv.ld")
	td, portDir, opt, linker, out, srcs := b.td, b.portDir, b.opt, b.linker, b.out, b.srcs
	args := append([]string{opt, "-g", "-fstack-usage", "-ffunction-sections", "-fdata-sections",
		"--specs=picolibc.specs", "-nostartfiles", "-Wl,--gc-sections",
		"-I", td, "-I", filepath.Join(kernel, "include"), "-I", portDir,
		"-I", filepath.Join(portDir, "chip_specific_extensions", "RISCV_MTIME_CLINT_no_extensions"),
		"-T", linker, "-o", out}, port.CPU...)
	for _, d := range app.Defines {
		args = append(args, "-D"+d)
	}
	for _, a := range app.LinkerArgs {
		args = append(args, "-Wl,"+a)
	}
	args = append(args, srcs...)
	Run(t, dir, cc, args...)
	return out
}
