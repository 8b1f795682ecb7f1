package starling_test

import (
	"testing"

	"github.com/starling-social/starling"
)

func TestStatusValidate(t *testing.T) {
	ok := func() *starling.Status {
		return &starling.Status{URI: "https://b.test/s/1", AccountID: 1, Visibility: starling.VisibilityPublic, Content: "<p>hi</p>"}
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("OK: %v", err)
	}
	for name, change := range map[string]func(*starling.Status){
		"ErrNoURI":        func(s *starling.Status) { s.URI = "" },
		"ErrNoAuthor":     func(s *starling.Status) { s.AccountID = 0 },
		"ErrVisibility":   func(s *starling.Status) { s.Visibility = "everyone" },
		"ErrNUL":          func(s *starling.Status) { s.Content = "a\x00b" },
		"ErrInvalidUTF8":  func(s *starling.Status) { s.SpoilerText = "\xff" },
		"ErrSourceNotUTF": func(s *starling.Status) { s.SourceText = "\xfe" },
	} {
		t.Run(name, func(t *testing.T) {
			s := ok()
			change(s)
			if code := starling.ErrorCode(s.Validate()); code != starling.EINVALID {
				t.Errorf("code %q, want EINVALID", code)
			}
		})
	}
}
