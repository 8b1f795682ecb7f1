package api

import (
	"fmt"
	"testing"
)

// TestListStreamName: a list stream is named by its list's id, and its
// events are labelled ["list", id] as Mastodon's.
func TestListStreamName(t *testing.T) {
	tests := []struct {
		stream, tag, list string
		want              string
		ok                bool
	}{
		{"list", "", "12", "list:12", true},
		{"list", "ignored", "12", "list:12", true},
		{"list", "12", "", "", false}, // the id comes as list, not tag
		{"list", "", "x", "", false},
		{"list", "", "0", "", false},
		{"hashtag", "Fun", "12", "hashtag:fun", true},
	}
	for _, tt := range tests {
		name, err := streamName(tt.stream, streamArg(tt.stream, tt.tag, tt.list))
		if name != tt.want || (err == nil) != tt.ok {
			t.Errorf("%s tag=%q list=%q: %q, %v; want %q", tt.stream, tt.tag, tt.list, name, err, tt.want)
		}
	}
	if got := fmt.Sprint(label("list:12")); got != "[list 12]" {
		t.Errorf("label %s", got)
	}
	c := &streamClient{streams: map[string]bool{"list:1": true, "list:2": true, "user": true}}
	if got := fmt.Sprint(c.lists(map[int64]bool{2: true, 3: true})); got != "[list:2]" {
		t.Errorf("lists showing: %s", got)
	}
}
