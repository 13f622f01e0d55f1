package callgraph

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stackscope/stackscope/internal/testutil"
)

// tsdSite returns libc's __nptl_deallocate_tsd node and the nodes its
// indirect call (the destructor call) goes to.
func tsdSite(t *testing.T, g *Graph) (int, []int) {
	t.Helper()
	id := libcNode(t, g, "__nptl_deallocate_tsd")
	n := g.Nodes[id]
	var site uint64
	count := 0
	for _, cs := range n.Frame.Calls {
		if cs.Kind.Indirect() {
			site, count = cs.Addr, count+1
		}
	}
	if count != 1 {
		t.Fatalf("__nptl_deallocate_tsd has %d indirect calls, want 1 (libc has changed?)", count)
	}
	var to []int
	for _, e := range n.Edges {
		if e.Site == site {
			to = append(to, e.To)
		}
	}
	return id, to
}

// TestTSDDestructors: __nptl_deallocate_tsd's call of a key's destructor
// goes to the destructors passed to pthread_key_create, not to libc's
// address-taken set: exactly deep_dtor for a program that creates a key
// with it (and deep_dtor's frame, the one gcc's .su gives, on the worst
// path of the thread's end); none for a program that creates no key; and
// the address-taken set still when the destructor passed is read from a
// variable (not proved), or when the key is created through a pointer
// from dlsym.
func TestTSDDestructors(t *testing.T) {
	gcc := testutil.RequireTool(t, "gcc")
	dir := t.TempDir()
	build := func(name, src string) string {
		c := filepath.Join(dir, name+".c")
		os.WriteFile(c, []byte(src), 0o644)
		out := filepath.Join(dir, name)
		testutil.Run(t, dir, gcc, "-O2", "-fstack-usage", "-pthread", "-Wl,-z,now", "-o", out, c)
		return out
	}
	const deep = `#include <pthread.h>
#include <string.h>
static pthread_key_t key;
__attribute__((noinline)) static void touch(volatile char *b, void *p) { b[((char *)p)[0]] = 2; }
__attribute__((noinline)) static void deep_dtor(void *p) {
	volatile char buf[3000];
	memset((char *)buf, 1, sizeof buf);
	touch(buf, p);
}
static void *worker(void *arg) { pthread_setspecific(key, arg); return 0; }
`
	withKey := build("key", deep+`
int main(void) {
	static char v[1];
	pthread_t t;
	pthread_key_create(&key, deep_dtor);
	pthread_create(&t, 0, worker, v);
	return pthread_join(t, 0);
}
`)
	var dtorSU int64 = -1
	for _, l := range testutil.ParseSU(t, dir) {
		if l.Function == "deep_dtor" {
			dtorSU = l.Bytes
		}
	}
	if dtorSU < 3000 {
		t.Fatalf("deep_dtor's .su frame: %d, want at least 3000", dtorSU)
	}
	g := buildModelled(t, withKey)
	dealloc, to := tsdSite(t, g)
	if len(to) != 1 || !strings.HasPrefix(g.Nodes[to[0]].Name(), "[thread-specific data destructors") {
		var names []string
		for _, id := range to {
			names = append(names, g.Nodes[id].Name())
		}
		t.Fatalf("__nptl_deallocate_tsd's destructor call goes to %v, want the thread-specific data destructors", names)
	}
	hub := g.Nodes[to[0]]
	var targets []string
	for _, e := range hub.Edges {
		if m := g.Nodes[e.To].Module; m == nil || !strings.HasPrefix(m.Name, "libc.so") {
			targets = append(targets, g.Nodes[e.To].Name())
		}
	}
	if !slices.Equal(targets, []string{"deep_dtor"}) {
		t.Errorf("the program's destructors called: %v, want [deep_dtor]", targets)
	}
	if len(hub.Premises) != 1 || hub.Premises[0].Kind != PremiseGlibcModel {
		t.Errorf("the destructors' node carries %+v, want the glibc-model premise", hub.Premises)
	}
	// The thread's end (start_thread's call of __nptl_deallocate_tsd)
	// reaches deep_dtor's frame: the walk's frame of deep_dtor is gcc's.
	dtor := g.NodesNamed("deep_dtor")
	if len(dtor) != 1 {
		t.Fatalf("deep_dtor: %d nodes", len(dtor))
	}
	if got := g.Nodes[dtor[0]].Frame.Size; got != dtorSU {
		t.Errorf("deep_dtor's frame %d B, gcc's .su %d B", got, dtorSU)
	}
	if !g.reachable([]int{dealloc})[dtor[0]] {
		t.Errorf("deep_dtor is not reachable from __nptl_deallocate_tsd")
	}

	none := build("nokey", deep+`
int main(void) {
	static char v[1];
	pthread_t t;
	pthread_create(&t, 0, worker, v);
	return pthread_join(t, 0);
}
`)
	g = buildModelled(t, none)
	_, to = tsdSite(t, g)
	if len(to) != 1 || !strings.HasPrefix(g.Nodes[to[0]].Name(), "[thread-specific data destructors") {
		t.Fatalf("without pthread_key_create, the destructor call goes to %d nodes, want the destructors' node", len(to))
	}
	for _, e := range g.Nodes[to[0]].Edges {
		t.Errorf("without pthread_key_create, a destructor: %s", g.QualifiedName(e.To))
	}

	// A key created through dlsym's pointer: pthread_key_create's
	// callers are not all known, the call gets its address-taken set
	// back (dlsym.go), which holds deep_dtor.
	viaLookup := build("dlsymkey", deep+`
#include <dlfcn.h>
int main(void) {
	static char v[1];
	pthread_t t;
	int (*create)(pthread_key_t *, void (*)(void *)) = (int (*)(pthread_key_t *, void (*)(void *)))dlsym(RTLD_DEFAULT, "pthread_key_create");
	if (create)
		create(&key, deep_dtor);
	pthread_create(&t, 0, worker, v);
	return pthread_join(t, 0);
}
`)
	g = buildModelled(t, viaLookup)
	dealloc, to = tsdSite(t, g)
	for _, id := range to {
		if strings.HasPrefix(g.Nodes[id].Name(), "[thread-specific data destructors") {
			t.Errorf("a key created through dlsym's pointer: the call was narrowed to %s", g.Nodes[id].Name())
		}
	}
	if dtor := g.NodesNamed("deep_dtor"); len(dtor) != 1 || !g.reachable([]int{dealloc})[dtor[0]] {
		t.Errorf("a key created through dlsym's pointer with deep_dtor: deep_dtor is not reachable from __nptl_deallocate_tsd")
	}

	unproved := build("varkey", deep+`
void (*volatile chosen)(void *) = deep_dtor;
int main(void) {
	static char v[1];
	pthread_t t;
	pthread_key_create(&key, chosen);
	pthread_create(&t, 0, worker, v);
	return pthread_join(t, 0);
}
`)
	g = buildModelled(t, unproved)
	_, to = tsdSite(t, g)
	taken := false
	for _, id := range to {
		if n := g.Nodes[id]; n.Hub && strings.HasPrefix(n.Name(), "[any of ") {
			taken = true
		}
		if strings.HasPrefix(g.Nodes[id].Name(), "[thread-specific data destructors") {
			t.Errorf("a destructor read from a variable: the call was narrowed to %s", g.Nodes[id].Name())
		}
	}
	if !taken {
		t.Errorf("a destructor read from a variable: the call lost libc's address-taken set")
	}
}
