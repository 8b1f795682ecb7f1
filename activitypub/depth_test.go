package activitypub

import (
	"strings"
	"testing"
)

func TestCheckDepth(t *testing.T) {
	deep := func(n int) string { return strings.Repeat(`{"a":[`, n) + strings.Repeat(`]}`, n) }
	for _, tt := range []struct {
		name string
		doc  string
		ok   bool
	}{
		{"flat", `{"type":"Note","content":"hi"}`, true},
		{"an activity", `{"type":"Announce","object":{"type":"Create","object":{"type":"Note","tag":[{"type":"Mention"}]}}}`, true},
		{"at the limit", deep(32), true}, // 64 levels: 32 objects and 32 arrays
		{"over the limit", deep(33), false},
		{"brackets in strings do not count", `{"content":"` + strings.Repeat(`[{`, 1000) + `"}`, true},
		{"escaped quotes stay in the string", `{"content":"\"` + strings.Repeat(`[`, 1000) + `"}`, true},
		{"an escaped backslash ends the escape", `{"a":"\\"` + strings.Repeat(`,"b":[`, 70) + strings.Repeat(`]`, 70) + `}`, false},
	} {
		if err := CheckDepth([]byte(tt.doc), MaxDepth); (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
