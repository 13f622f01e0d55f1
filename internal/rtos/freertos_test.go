package rtos

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// The layouts these tests use are those of the ARM_CM3 build of the
// shared kernel (a TCB with pxTopOfStack at 0, xStateListItem at 4,
// uxPriority at 44, pxStack at 48, pcTaskName at 52, pxEndOfStack at 64);
// the emulator's tests read the real ones from DWARF and check the tasks
// against the kernel's own view.
func testKernel(lists int) *FreeRTOS {
	k := &FreeRTOS{currentTCB: base, tcbTopOfStack: 0, tcbStateItem: 4, tcbPriority: 44, tcbStack: 48, tcbName: 52, tcbNameLen: 12,
		tcbEndOfStack: 64, listCount: 0, listEnd: 8, itemNext: 4, itemOwner: 12, listSize: 20}
	for i := 0; i < lists; i++ {
		k.lists = append(k.lists, taskList{base + 0x10 + uint64(i)*20, "ready"})
	}
	return k
}

const base = 0x20000000

// mem is target memory at base.
type mem []byte

func (m mem) ReadMemory(addr uint64, n int) ([]byte, error) {
	if addr < base || addr-base+uint64(n) > uint64(len(m)) {
		return nil, fmt.Errorf("reading %d bytes at %#x: outside the image", n, addr)
	}
	return m[addr-base : addr-base+uint64(n)], nil
}

func (m mem) put(addr uint64, v uint32) { binary.LittleEndian.PutUint32(m[addr-base:], v) }

// image builds memory with one list (at base+0x10) holding TCBs named
// names, each TCB at base+0x100+0x80*i, and pxCurrentTCB pointing to the
// first.
func image(names ...string) mem {
	m := make(mem, 0x100+0x80*len(names))
	list := uint64(base + 0x10)
	end := list + 8
	m.put(list, uint32(len(names)))
	prev := end
	for i, n := range names {
		tcb := uint64(base + 0x100 + 0x80*i)
		item := tcb + 4
		m.put(prev+4, uint32(item)) // prev.pxNext
		m.put(item+12, uint32(tcb)) // pvOwner
		m.put(tcb+44, uint32(i))
		m.put(tcb+48, 0x20010000+uint32(i)*0x400)
		m.put(tcb+64, 0x20010000+uint32(i)*0x400+0x3fc)
		copy(m[tcb-base+52:], n)
		prev = item
	}
	m.put(prev+4, uint32(end))
	if len(names) > 0 {
		m.put(base, base+0x100)
	}
	return m
}

// TestTasksWalk: every task of a list, once, by name, with its stack.
func TestTasksWalk(t *testing.T) {
	k := testKernel(1)
	k.currentTCB = base + 0x8 // an unused word: no task running
	tasks, err := k.Tasks(image("alpha", "beta", "gamma"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range tasks {
		got = append(got, fmt.Sprintf("%s@%#x-%#x p%d", tk.Name, tk.Stack, tk.EndOfStack, tk.Priority))
	}
	want := "alpha@0x20010000-0x200103fc p0 beta@0x20010400-0x200107fc p1 gamma@0x20010800-0x20010bfc p2"
	if strings.Join(got, " ") != want {
		t.Errorf("tasks %v, want %s", got, want)
	}
}

// TestTasksCorrupt: a list whose items do not come back to its end, or
// that claims too many tasks, is an error, never a hang.
func TestTasksCorrupt(t *testing.T) {
	m := image("alpha", "beta")
	m.put(base+0x100+0x80+4+4, base+0x100+4) // beta's item points back to alpha's
	if _, err := testKernel(1).Tasks(m); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("a cycle: %v, want an error that says corrupt", err)
	}
	m = image("alpha")
	m.put(base+0x10, 100000)
	if _, err := testKernel(1).Tasks(m); err == nil {
		t.Error("100000 tasks: no error")
	}
}

// FuzzTasks: any memory gives tasks or an error, never a panic or a loop.
func FuzzTasks(f *testing.F) {
	f.Add([]byte(image("alpha", "beta", "gamma")))
	f.Add([]byte(image()))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 0x40 {
			return
		}
		testKernel(2).Tasks(mem(data))
	})
}
