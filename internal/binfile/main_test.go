package binfile

import (
	"flag"
	"os"
	"testing"
)

// minimizeRuns bounds the fuzzer's minimizing of each input to that many
// runs, unless the command line gives -fuzzminimizetime. The fuzzer
// minimizes every input that reaches new code, not only failing ones, for
// 60 s by default, and FuzzOpen's inputs are ELF files of 2-70 KB, which
// take three or more runs per byte to minimize (about 65,000 runs for the
// example firmware): each new input stopped the fuzzing for most of a
// minute, shown as "execs: N (0/sec)", the stall the seventh and ninth
// passes of issue 19 saw. 90 s of FuzzOpen at load 9-10 on 2 cores, one
// worker: 60 s (the default) stalled after 2,900 inputs; 10 s ran 7,300
// inputs (11 new); 2 s 11,000 (42 new); 100 runs 73,700 (137 new). A
// hundred runs still cut an input's tail; a failing input is written to
// testdata as it is then, and -fuzzminimizetime 60s minimizes it further.
const minimizeRuns = "100x"

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.fuzzminimizetime" })
	if !given {
		if err := flag.Set("test.fuzzminimizetime", minimizeRuns); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
