package main

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"os"

	"github.com/stackscope/stackscope/internal/binfile"
	"github.com/stackscope/stackscope/internal/emu"
)

// The kinds of the emulator's records that report shows.
const (
	kindFirmwareRun       = "firmware-run"
	kindFirmwareInjection = "firmware-injection"
)

// readFirmwareRun reads --run FILE when it is the record of a firmware run
// (kind "firmware-run"); it returns nil and no error for any other kind,
// which readRunRecord then judges.
func readFirmwareRun(file string) (*emu.Result, error) {
	data, err := readRecordFile("--run", file)
	if err != nil || jsonKind(data) != kindFirmwareRun {
		return nil, err
	}
	var r emu.Result
	if err := json.Unmarshal(data, &r); err != nil || r.Stacks == nil {
		why := "no \"stacks\""
		if err != nil {
			why = err.Error()
		}
		return nil, usageErrorf("--run %s: not a record of stackscope run --format json FIRMWARE.elf: %s", file, why)
	}
	return &r, nil
}

// readInjection reads --inject FILE, a `stackscope inject --format json`
// record, and refuses any other JSON.
func readInjection(file string) (*emu.Injection, error) {
	data, err := readRecordFile("--inject", file)
	if err != nil {
		return nil, err
	}
	if kind := jsonKind(data); kind != kindFirmwareInjection {
		return nil, usageErrorf("--inject %s: %s, not an injection record (write one with stackscope inject --format json -o FILE FIRMWARE.elf)", file, kindText(kind))
	}
	var r emu.Injection
	if err := json.Unmarshal(data, &r); err != nil || r.Verdict == "" {
		why := "no \"verdict\""
		if err != nil {
			why = err.Error()
		}
		return nil, usageErrorf("--inject %s: not a record of stackscope inject --format json: %s", file, why)
	}
	return &r, nil
}

// readRecordFile reads a record named by flag, with one line for a file
// that cannot be read.
func readRecordFile(flag, file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, usageErrorf("%s %s: no such file", flag, file)
		}
		return nil, usageErrorf("%s %s: %v", flag, file, errors.Unwrap(err))
	}
	return data, nil
}

// checkRecordTarget refuses a record made on the other side: an emulator
// record (flag, file; what names it) for a Linux program, or a Linux run
// record for firmware. A firmware run's stacks beside a program's threads,
// or the reverse, would compare nothing with nothing.
func checkRecordTarget(path, flag, file string, fromEmulator bool) error {
	fw, ok := isFirmwareFile(path)
	if !ok {
		return nil // not an ELF file: the analysis says so
	}
	switch {
	case fromEmulator && !fw:
		return usageErrorf("%s %s: a record of firmware run in the emulator, and %s is not firmware", flag, file, path)
	case !fromEmulator && fw:
		return usageErrorf("%s %s: a run record of a Linux program, and %s is firmware (write one with stackscope run --format json -o FILE %s)", flag, file, path, path)
	}
	return nil
}

// isFirmwareFile says whether path is firmware as run decides it (an ARM
// ELF with a vector table and no program interpreter, or a RISC-V ELF
// without a program interpreter); ok is false when it is no ELF file at
// all.
func isFirmwareFile(path string) (fw, ok bool) {
	f, err := elf.Open(path)
	if err != nil {
		return false, false
	}
	machine := f.Machine
	f.Close()
	if machine != elf.EM_ARM && machine != elf.EM_RISCV {
		return false, true
	}
	bf, err := binfile.Open(path)
	if err != nil {
		return false, false
	}
	defer bf.Close()
	fw, _ = emu.IsFirmware(bf)
	return fw, true
}

// autoLayout says whether report's --layout auto includes the memory map:
// for firmware, as run decides it (Cortex-M, and RISC-V without a program
// interpreter), so that a page that takes a firmware run record also
// shows the stack placement's verdict. A RISC-V Linux program is no
// firmware: its stacks are the kernel's.
func autoLayout(f *binfile.File) bool {
	switch f.Arch {
	case binfile.ArchThumb:
		return true
	case binfile.ArchRISCV32, binfile.ArchRISCV64:
		fw, _ := emu.IsFirmware(f)
		return fw
	}
	return false
}
