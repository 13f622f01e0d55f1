package gdbrsp

import (
	"debug/elf"
	"encoding/binary"
	"net"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stackscope/stackscope/internal/testutil"
)

// startQEMU builds testdata/tiny.c and starts it in QEMU's mps2-an385,
// halted at reset, with the GDB stub on a UNIX socket in the test's
// directory, and returns a connected client and the firmware's symbols.
func startQEMU(t *testing.T) (*Client, map[string]uint64) {
	t.Helper()
	cc := testutil.RequireTool(t, "arm-none-eabi-gcc")
	qemu := testutil.RequireTool(t, "qemu-system-arm")
	dir := t.TempDir()
	src, _ := filepath.Abs("testdata/tiny.c")
	ld, _ := filepath.Abs("testdata/tiny.ld")
	fw := filepath.Join(dir, "tiny.elf")
	testutil.Run(t, dir, cc, "-mcpu=cortex-m3", "-mthumb", "-O1", "-g", "-nostdlib", "-nostartfiles", "-T", ld, src, "-o", fw)
	ef, err := elf.Open(fw)
	if err != nil {
		t.Fatal(err)
	}
	syms, _ := ef.Symbols()
	ef.Close()
	addr := map[string]uint64{}
	for _, s := range syms {
		addr[s.Name] = s.Value
	}
	sock := filepath.Join(dir, "gdb.sock")
	cmd := exec.Command(qemu, "-M", "mps2-an385", "-nographic", "-monitor", "none", "-S",
		"-semihosting-config", "enable=on,target=native", "-icount", "shift=3",
		"-chardev", "socket,id=gdb0,path="+sock+",server=on,wait=off", "-gdb", "chardev:gdb0", "-kernel", fw)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var conn net.Conn
	for i := 0; i < 200; i++ {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no GDB stub on %s: %v", sock, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := NewClient(conn)
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	return c, addr
}

func u32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// TestQEMU checks the client against the stub of a real qemu-system-arm:
// halted at reset with the vector table's SP and PC, memory written and
// read back, a write watchpoint that fires on the firmware's first store
// to counter, a breakpoint at done, an interrupt of a spinning core, and
// the semihosting exit status in the "W" reply.
func TestQEMU(t *testing.T) {
	c, sym := startQEMU(t)
	t.Logf("stub features %v, packet size %d, no-ack %v", c.Features, c.PacketSize, c.NoAck())
	st, err := c.Halted()
	if err != nil || st.Kind != Signal {
		t.Fatalf("? = %+v, %v", st, err)
	}
	regs, err := c.ReadRegisters()
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) < 64 {
		t.Fatalf("g: %d bytes", len(regs))
	}
	if sp, pc := u32(regs[13*4:]), u32(regs[15*4:]); sp != uint32(sym["__StackTop"]) || pc != uint32(sym["Reset_Handler"])&^1 {
		t.Fatalf("at reset sp=%#x pc=%#x, want %#x and %#x", sp, pc, sym["__StackTop"], sym["Reset_Handler"]&^1)
	}
	// QEMU answers "p" only once the client has read the target
	// description (before that, "g" has a fixed layout without it).
	if _, err := c.ReadRegister(15); err == nil {
		t.Fatal("p before qXfer:features:read answered: the layout assumption in emu is stale")
	}
	if _, err := c.Exchange("qXfer:features:read:target.xml:0,ffb"); err != nil {
		t.Fatal(err)
	}
	pc, err := c.ReadRegister(15)
	if err != nil || u32(pc) != uint32(sym["Reset_Handler"])&^1 {
		t.Fatalf("p f = %x, %v", pc, err)
	}
	// Paint 1 KiB below the stack top and read it back.
	paint := make([]byte, 1024)
	for i := range paint {
		paint[i] = byte(i) ^ 0x23 // includes '#', '$', '}' and '*'
	}
	if err := c.WriteMemory(sym["__StackTop"]-1024, paint); err != nil {
		t.Fatal(err)
	}
	back, err := c.ReadMemory(sym["__StackTop"]-1024, 1024)
	if err != nil || string(back) != string(paint) {
		t.Fatalf("memory read back differs (%v)", err)
	}
	if _, err := c.ReadMemory(0xf0000000, 4); err == nil {
		t.Fatal("reading unmapped memory: no error")
	}

	if err := c.SetWatchpoint(WriteWatchpoint, sym["counter"], 4); err != nil {
		t.Fatal(err)
	}
	st, err = c.Continue()
	if err != nil {
		t.Fatal(err)
	}
	if st.Kind != Signal || st.Watch != "watch" || st.WatchAddr != sym["counter"] {
		t.Fatalf("after the watchpoint: %+v", st)
	}
	if err := c.RemoveWatchpoint(WriteWatchpoint, sym["counter"], 4); err != nil {
		t.Fatal(err)
	}
	done := sym["done"] &^ 1
	if err := c.SetBreakpoint(done, 2); err != nil {
		t.Fatal(err)
	}
	st, err = c.Continue()
	if err != nil {
		t.Fatal(err)
	}
	pc, err = c.ReadRegister(15)
	if err != nil || st.Signal != SIGTRAP || u32(pc) != uint32(done) {
		t.Fatalf("at the breakpoint: %+v pc %x (%v), want %#x", st, pc, err, done)
	}
	cnt, err := c.ReadMemory(sym["counter"], 4)
	if err != nil || u32(cnt) != 1000 {
		t.Fatalf("counter = %x (%v), want 1000", cnt, err)
	}
	if err := c.RemoveBreakpoint(done, 2); err != nil {
		t.Fatal(err)
	}
	st, err = c.Step()
	if err != nil || st.Kind != Signal || st.Signal != SIGTRAP {
		t.Fatalf("step: %+v %v", st, err)
	}
	st, err = c.Continue()
	if err != nil {
		t.Fatal(err)
	}
	if st.Kind != Exited || st.ExitStatus != 1000&0xff {
		t.Fatalf("exit: %+v, want W with %d", st, 1000&0xff)
	}
}

// TestQEMUInterrupt: a core spinning forever stops on 0x03 with SIGINT.
func TestQEMUInterrupt(t *testing.T) {
	c, sym := startQEMU(t)
	if err := c.WriteMemory(sym["spin"], []byte{1, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	stops := make(chan *Stop, 1)
	go func() {
		st, err := c.Wait()
		if err != nil {
			t.Error(err)
		}
		stops <- st
	}()
	time.Sleep(200 * time.Millisecond)
	if err := c.Interrupt(); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-stops:
		if st == nil || st.Kind != Signal || st.Signal != SIGINT {
			t.Fatalf("after interrupt: %+v", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no stop reply 10 s after the interrupt")
	}
	regs, err := c.ReadRegisters()
	if err != nil {
		t.Fatal(err)
	}
	if p := uint64(u32(regs[60:])); p < sym["Reset_Handler"]&^1 || p > sym["Reset_Handler"]+16 {
		t.Fatalf("interrupted at pc %#x, not in Reset_Handler's spin loop at %#x", p, sym["Reset_Handler"])
	}
}
