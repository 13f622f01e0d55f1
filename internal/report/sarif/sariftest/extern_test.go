package sariftest

import (
	"os"
	"testing"
)

// TestExternalLog validates a log named by $SARIF_LOG (a manual check on
// programs outside the repository); skipped without it.
func TestExternalLog(t *testing.T) {
	path := os.Getenv("SARIF_LOG")
	if path == "" {
		t.Skip("SARIF_LOG not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep := Check(t, string(data))
	t.Logf("%s: valid SARIF 2.1.0, %d results", path, len(rep.Runs[0].Results))
}
