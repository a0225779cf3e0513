package rowid

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadHeaderlessText(t *testing.T) {
	cols := []string{"ts", "symbol", "close", "volume"}
	cases := []struct {
		name string
		text Text
		body string
		want []Row
	}{
		{"LazySimpleSerDe default Ctrl-A", Text{Columns: cols, Delim: "\x01", Null: `\N`},
			"2024-01-02\x01HSI\x011.5\x017\n2024-01-02\x01N225\x01\\N\x018\n",
			[]Row{{Seq: 7, OK: true, Symbol: "HSI"}, {Seq: 8, OK: true, Symbol: "N225"}}},
		{"tab, CRLF, no final newline", Text{Columns: cols, Delim: "\t"},
			"a\tHSI\t1\t7\r\nb\tN225\t2\t8",
			[]Row{{Seq: 7, OK: true, Symbol: "HSI"}, {Seq: 8, OK: true, Symbol: "N225"}}},
		{"a header skipped per object, NULL volume, empty line", Text{Columns: cols, Delim: ",", Null: `\N`, Skip: 1},
			"ts,symbol,close,volume\nx,HSI,1,\\N\n\nx,N225,2,8\n",
			[]Row{{Symbol: "HSI"}, {}, {Seq: 8, OK: true, Symbol: "N225"}}},
		{"OpenCSVSerde quotes a delimiter and escapes a quote", Text{Columns: cols, Delim: ",", Quote: `"`, Escape: `\`},
			"\"2024,01\",\"H\\\"SI\",\"1.5\",\"7\"\n",
			[]Row{{Seq: 7, OK: true, Symbol: `H"SI`}}},
		{"an escaped delimiter does not shift columns", Text{Columns: cols, Delim: "|", Escape: `\`},
			"a\\|b|HSI|1|7\n",
			[]Row{{Seq: 7, OK: true, Symbol: "HSI"}}},
		{"fewer fields than columns", Text{Columns: cols, Delim: ","},
			"a,HSI\n", []Row{{Symbol: "HSI"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadAs([]byte(c.body), &c.text)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
			// Gzipped the same.
			got, err = ReadAs(gz(t, []byte(c.body)), &c.text)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// A text table reads every object as text, as Athena would: a JSON object
// under a CSV table is not a row of ticks.
func TestReadAsTextIgnoresOtherFormats(t *testing.T) {
	text := &Text{Columns: []string{"symbol", "volume"}, Delim: ","}
	got, err := ReadAs([]byte(`{"symbol":"HSI","volume":7}`+"\n"), text)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.False(t, got[0].OK)
	// Without a table the same object is JSON.
	got, err = ReadAs([]byte(`{"symbol":"HSI","volume":7}`+"\n"), nil)
	require.NoError(t, err)
	assert.Equal(t, []Row{{Seq: 7, OK: true, Symbol: "HSI"}}, got)
}

func TestTextWithoutVolumeColumn(t *testing.T) {
	_, err := ReadAs([]byte("a,b\n"), &Text{Columns: []string{"symbol", "price"}, Delim: ","})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no volume column among symbol, price")
	assert.Contains(t, err.Error(), "name that column volume")
	require.Error(t, (&Text{Columns: []string{"volume"}}).Validate(), "an empty delimiter")
}
