package x86

import (
	"encoding/hex"
	"fmt"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

func TestProbe(t *testing.T) {
	for _, h := range []string{"4883c480", "4881e400f0ffff", "6650", "50", "66ff742408", "6a80", "689c000000", "9c", "669c", "cc", "cd03", "f30f1efa", "f2ff25e0ffffff", "3effe0", "c8100000", "c8100002", "4c8d9c240070feff", "48830c2400", "e800000000", "0f0b", "0fb64424f8", "0f1f440000", "c5f877", "62f1fd48110424", "480fc7f0", "0fae0424", "0fc7642408","66e9000000","6a00","ff3424","8f442408"} {
		b, _ := hex.DecodeString(h)
		inst, err := x86asm.Decode(b, 64)
		fmt.Printf("%-20s %v len=%d op=%v ds=%d as=%d mb=%d args=%#v\n", h, err, inst.Len, inst.Op, inst.DataSize, inst.AddrSize, inst.MemBytes, inst.Args[:3])
	}
}
