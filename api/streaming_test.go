package api

import (
	"fmt"
	"testing"
)

// TestSlowClientDropped: a client whose queue is full is disconnected, not
// buffered for without bound.
func TestSlowClientDropped(t *testing.T) {
	c := &streamClient{out: make(chan streamEvent, 2), gone: make(chan struct{}), streams: map[string]bool{}}
	for i := range 3 {
		c.send(streamEvent{Event: "update", Payload: fmt.Sprint(i)})
	}
	select {
	case <-c.gone:
	default:
		t.Fatal("a client that fell behind by more than its buffer is still connected")
	}
	if len(c.out) != 2 {
		t.Errorf("queue holds %d events, want its bound 2", len(c.out))
	}
}

func TestStreamNames(t *testing.T) {
	for _, tc := range []struct {
		stream, tag, key string
		label            string
		err              bool
	}{
		{"user", "", "user", "[user]", false},
		{"user:notification", "", "user:notification", "[user:notification]", false},
		{"public:local", "", "public:local", "[public:local]", false},
		{"public:media", "", "public", "[public]", false},
		{"hashtag", "#Go", "hashtag:go", "[hashtag go]", false},
		{"hashtag:local", "go", "hashtag:local:go", "[hashtag:local go]", false},
		{"hashtag", "", "", "", true},
		{"direct-ish", "", "", "", true},
	} {
		t.Run(tc.stream+"/"+tc.tag, func(t *testing.T) {
			key, err := streamName(tc.stream, tc.tag)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if err == nil && (key != tc.key || fmt.Sprint(label(key)) != tc.label) {
				t.Errorf("key %q label %v, want %q %s", key, label(key), tc.key, tc.label)
			}
		})
	}
}
