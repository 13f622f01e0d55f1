// Package rtos finds the tasks of an RTOS in a halted target's memory from
// the symbols and DWARF types of its image, the way a debugger's RTOS
// awareness does (OpenOCD's rtos/ directory): FreeRTOS today. It reads
// memory through a small interface and knows nothing of emulators.
package rtos

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Memory reads the target's memory.
type Memory interface {
	ReadMemory(addr uint64, n int) ([]byte, error)
}

// ErrNotFreeRTOS: the image has no pxCurrentTCB (it does not link the
// FreeRTOS kernel, or its symbols are stripped).
var ErrNotFreeRTOS = errors.New("not a FreeRTOS image (no pxCurrentTCB symbol)")

// FreeRTOS is where a FreeRTOS kernel keeps its tasks in one image: the
// addresses of its lists and the offsets of the fields it needs, all from
// the ELF symbols and the DWARF types (so a kernel built with other
// options, which moves the fields, is read right).
type FreeRTOS struct {
	currentTCB uint64
	lists      []taskList
	// TCB_t fields.
	tcbTopOfStack, tcbStateItem, tcbPriority, tcbStack, tcbName int64
	tcbNameLen                                                  int
	tcbEndOfStack                                               int64 // -1: not recorded (configRECORD_STACK_HIGH_ADDRESS 0)
	// List_t and ListItem_t fields.
	listCount, listEnd, itemNext, itemOwner int64
	listSize                                int64
	// ptrSize is the size of a pointer and of UBaseType_t, the fields
	// read: 8 in a 64-bit image (ELFCLASS64: RV64), else 4.
	ptrSize int
}

// taskList is one of the kernel's lists of tasks.
type taskList struct {
	addr  uint64
	state string
}

// Task is one task as its TCB says.
type Task struct {
	TCB  uint64
	Name string
	// State is the list it was found in: ready, delayed, pending-ready,
	// suspended (or blocked without a timeout), deleted (waiting for the
	// idle task to free it).
	State    string
	Priority uint32
	// Running: pxCurrentTCB points to it.
	Running bool
	// Stack is pxStack, the lowest address of its stack; TopOfStack the
	// stack pointer saved at its last switch (meaningless while running).
	Stack, TopOfStack uint64
	// EndOfStack is pxEndOfStack when the kernel records it
	// (configRECORD_STACK_HIGH_ADDRESS): the highest word of the stack.
	EndOfStack    uint64
	HasEndOfStack bool
}

// maxTasks bounds a list walk: a corrupt list (a stack overflow that
// wrote over a TCB) must end, not loop.
const maxTasks = 256

// LoadFreeRTOS reads the kernel's layout from f. ErrNotFreeRTOS when the
// image has no kernel; another error names the symbol or type missing.
func LoadFreeRTOS(f *elf.File) (*FreeRTOS, error) {
	syms, err := f.Symbols()
	if err != nil {
		return nil, ErrNotFreeRTOS
	}
	addr := map[string]elf.Symbol{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_OBJECT {
			addr[s.Name] = s
		}
	}
	cur, ok := addr["pxCurrentTCB"]
	if !ok {
		return nil, ErrNotFreeRTOS
	}
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("FreeRTOS: the image has no usable DWARF (build with -g) to read the TCB's layout: %v", err)
	}
	structs, err := findStructs(d, "tskTaskControlBlock", "xLIST", "xLIST_ITEM")
	if err != nil {
		return nil, err
	}
	k := &FreeRTOS{currentTCB: cur.Value, tcbEndOfStack: -1, ptrSize: 4}
	if f.Class == elf.ELFCLASS64 {
		k.ptrSize = 8
	}
	tcb, list, item := structs["tskTaskControlBlock"], structs["xLIST"], structs["xLIST_ITEM"]
	for _, fld := range []struct {
		s    *dwarf.StructType
		name string
		dst  *int64
	}{
		{tcb, "pxTopOfStack", &k.tcbTopOfStack}, {tcb, "xStateListItem", &k.tcbStateItem}, {tcb, "uxPriority", &k.tcbPriority},
		{tcb, "pxStack", &k.tcbStack}, {tcb, "pcTaskName", &k.tcbName},
		{list, "uxNumberOfItems", &k.listCount}, {list, "xListEnd", &k.listEnd},
		{item, "pxNext", &k.itemNext}, {item, "pvOwner", &k.itemOwner},
	} {
		ff := field(fld.s, fld.name)
		if ff == nil {
			return nil, fmt.Errorf("FreeRTOS: struct %s has no field %s in the DWARF", fld.s.StructName, fld.name)
		}
		*fld.dst = ff.ByteOffset
		if fld.name == "pcTaskName" {
			k.tcbNameLen = int(ff.Type.Size())
		}
	}
	if ff := field(tcb, "pxEndOfStack"); ff != nil {
		k.tcbEndOfStack = ff.ByteOffset
	}
	if k.tcbNameLen <= 0 || k.tcbNameLen > 256 {
		k.tcbNameLen = 16
	}
	k.listSize = list.Size()
	// The ready lists are an array, one per priority; the others single
	// lists. A kernel built without vTaskSuspend or vTaskDelete lacks
	// those lists, which is fine.
	if s, ok := addr["pxReadyTasksLists"]; ok && k.listSize > 0 {
		for i := uint64(0); i < s.Size/uint64(k.listSize); i++ {
			k.lists = append(k.lists, taskList{s.Value + i*uint64(k.listSize), "ready"})
		}
	} else {
		return nil, errors.New("FreeRTOS: no pxReadyTasksLists symbol")
	}
	for _, l := range []struct{ name, state string }{
		{"xDelayedTaskList1", "delayed"}, {"xDelayedTaskList2", "delayed"}, {"xPendingReadyList", "pending-ready"},
		{"xSuspendedTaskList", "suspended"}, {"xTasksWaitingTermination", "deleted"},
	} {
		if s, ok := addr[l.name]; ok {
			k.lists = append(k.lists, taskList{s.Value, l.state})
		}
	}
	return k, nil
}

// RecordsEndOfStack reports whether the TCB has pxEndOfStack.
func (k *FreeRTOS) RecordsEndOfStack() bool { return k.tcbEndOfStack >= 0 }

func field(s *dwarf.StructType, name string) *dwarf.StructField {
	for _, f := range s.Field {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// findStructs finds the complete struct types of the given tags.
func findStructs(d *dwarf.Data, names ...string) (map[string]*dwarf.StructType, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]*dwarf.StructType{}
	r := d.Reader()
	for len(out) < len(names) {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("FreeRTOS: reading DWARF: %v", err)
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		n, _ := e.Val(dwarf.AttrName).(string)
		if !want[n] || out[n] != nil {
			continue
		}
		if decl, _ := e.Val(dwarf.AttrDeclaration).(bool); decl {
			continue
		}
		t, err := d.Type(e.Offset)
		if err != nil {
			continue
		}
		if st, ok := t.(*dwarf.StructType); ok && !st.Incomplete {
			out[n] = st
		}
	}
	var missing []string
	for _, n := range names {
		if out[n] == nil {
			missing = append(missing, "struct "+n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("FreeRTOS: the DWARF has no %s (build tasks.c with -g)", strings.Join(missing, ", "))
	}
	return out, nil
}

// Tasks walks the kernel's lists in mem and returns every task once, in
// list order (ready lists by priority, then delayed, pending, suspended,
// deleted). Before the scheduler has created any task the answer is empty.
func (k *FreeRTOS) Tasks(mem Memory) ([]Task, error) {
	cur, err := k.word(mem, k.currentTCB)
	if err != nil {
		return nil, err
	}
	seen := map[uint64]bool{}
	var out []Task
	for _, l := range k.lists {
		owners, err := k.walk(mem, l.addr)
		if err != nil {
			return nil, err
		}
		for _, tcb := range owners {
			if seen[tcb] || tcb == 0 {
				continue
			}
			seen[tcb] = true
			t, err := k.readTCB(mem, tcb)
			if err != nil {
				return nil, err
			}
			t.State, t.Running = l.state, tcb == cur
			out = append(out, t)
		}
	}
	if cur != 0 && !seen[cur] {
		// Running but in no list (it is being moved between lists).
		t, err := k.readTCB(mem, cur)
		if err != nil {
			return nil, err
		}
		t.State, t.Running = "running", true
		out = append(out, t)
	}
	return out, nil
}

// Current is pxCurrentTCB: the running task's TCB (0 before any task
// exists).
func (k *FreeRTOS) Current(mem Memory) (uint64, error) { return k.word(mem, k.currentTCB) }

// walk returns the owners of the items of the list at addr.
func (k *FreeRTOS) walk(mem Memory, addr uint64) ([]uint64, error) {
	n, err := k.word(mem, addr+uint64(k.listCount))
	if err != nil {
		return nil, err
	}
	if n > maxTasks {
		return nil, fmt.Errorf("FreeRTOS list at %#x says it holds %d tasks: corrupt (a stack overflow over kernel data?)", addr, n)
	}
	end := addr + uint64(k.listEnd)
	item, err := k.word(mem, end+uint64(k.itemNext))
	if err != nil {
		return nil, err
	}
	var owners []uint64
	for i := 0; item != end; i++ {
		if i >= int(n) || item == 0 {
			return nil, fmt.Errorf("FreeRTOS list at %#x: its items do not lead back to its end after %d of %d (corrupt)", addr, i, n)
		}
		owner, err := k.word(mem, item+uint64(k.itemOwner))
		if err != nil {
			return nil, err
		}
		owners = append(owners, owner)
		if item, err = k.word(mem, item+uint64(k.itemNext)); err != nil {
			return nil, err
		}
	}
	return owners, nil
}

func (k *FreeRTOS) readTCB(mem Memory, tcb uint64) (Task, error) {
	t := Task{TCB: tcb}
	var err error
	if t.TopOfStack, err = k.word(mem, tcb+uint64(k.tcbTopOfStack)); err != nil {
		return t, err
	}
	if t.Stack, err = k.word(mem, tcb+uint64(k.tcbStack)); err != nil {
		return t, err
	}
	p, err := k.word(mem, tcb+uint64(k.tcbPriority))
	if err != nil {
		return t, err
	}
	t.Priority = uint32(p)
	name, err := mem.ReadMemory(tcb+uint64(k.tcbName), k.tcbNameLen)
	if err != nil {
		return t, err
	}
	if i := strings.IndexByte(string(name), 0); i >= 0 {
		name = name[:i]
	}
	t.Name = string(name)
	if k.tcbEndOfStack >= 0 {
		if t.EndOfStack, err = k.word(mem, tcb+uint64(k.tcbEndOfStack)); err != nil {
			return t, err
		}
		t.HasEndOfStack = true
	}
	return t, nil
}

// word reads a pointer or a UBaseType_t (little-endian, as every target
// stackscope runs is).
func (k *FreeRTOS) word(mem Memory, addr uint64) (uint64, error) {
	n := k.ptrSize
	if n == 0 {
		n = 4
	}
	b, err := mem.ReadMemory(addr, n)
	if err != nil {
		return 0, err
	}
	if len(b) < n {
		return 0, fmt.Errorf("reading %d bytes at %#x: got %d", n, addr, len(b))
	}
	if n == 8 {
		return binary.LittleEndian.Uint64(b), nil
	}
	return uint64(binary.LittleEndian.Uint32(b)), nil
}
