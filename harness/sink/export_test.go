package sink

import (
	"os"
	"testing"
)

func sampleCSV(t testing.TB) []byte {
	b, err := os.ReadFile("../../testdata/indexProcessed-HSI.csv")
	if err != nil {
		t.Fatal(err)
	}
	return b
}
