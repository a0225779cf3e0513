package broker

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions answers list SaslHandshake from v0 (librdkafka needs it), in
// both the old and the flexible encoding; other keys are untouched.
func TestListHandshakeFromV0(t *testing.T) {
	for _, version := range []int16{0, 1, 2, 3, 4} {
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = version
		for _, k := range []struct{ key, min, max int16 }{{0, 0, 11}, {17, 1, 1}, {36, 0, 2}} {
			ak := kmsg.NewApiVersionsResponseApiKey()
			ak.ApiKey, ak.MinVersion, ak.MaxVersion = k.key, k.min, k.max
			resp.ApiKeys = append(resp.ApiKeys, ak)
		}
		b := resp.AppendTo(nil)
		listHandshakeFromV0(b, version)
		got := kmsg.NewPtrApiVersionsResponse()
		got.Version = version
		if !assert.NoError(t, got.ReadFrom(b), "v%d", version) {
			continue
		}
		mins := map[int16]int16{}
		for _, k := range got.ApiKeys {
			mins[k.ApiKey] = k.MinVersion
		}
		assert.Equal(t, map[int16]int16{0: 0, 17: 0, 36: 0}, mins, "v%d", version)
	}
}

func TestHandshakeMechanism(t *testing.T) {
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Mechanism = "SCRAM-SHA-512"
	body := binary.BigEndian.AppendUint16(nil, 17)
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint32(body, 7)
	body = binary.BigEndian.AppendUint16(body, 6)
	body = append(body, "client"...)
	body = req.AppendTo(body)
	assert.Equal(t, "SCRAM-SHA-512", handshakeMechanism(body))
	assert.Equal(t, 2, rawTokens("SCRAM-SHA-512"))
	assert.Equal(t, 1, rawTokens("PLAIN"))
	assert.Equal(t, "", handshakeMechanism(body[:9]))
}
