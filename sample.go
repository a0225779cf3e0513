// Package tickflow holds the data embedded in the tickflow binary: the real
// Hang Seng sample used by `tickflow demo` and the list of the 14 indexes the
// synthetic generator walks. The code lives in broker/, harness/, scenarios/
// and cmd/tickflow; see README.md for the map.
package tickflow

import _ "embed"

// SampleCSV is testdata/indexProcessed-HSI.csv: 5,692 daily Hang Seng bars
// (1986–2010) in the seed project's CSV format. Its last line is cut
// mid-number on purpose, as real exports sometimes are.
//
//go:embed testdata/indexProcessed-HSI.csv
var SampleCSV []byte

// IndexInfoCSV is testdata/indexInfo.csv: Region,Exchange,Index,Currency for
// the 14 indexes of the data set.
//
//go:embed testdata/indexInfo.csv
var IndexInfoCSV []byte
