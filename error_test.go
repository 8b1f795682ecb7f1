package starling_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/starling-social/starling"
)

func TestErrorCode(t *testing.T) {
	for _, tt := range []struct {
		name      string
		err       error
		code, msg string
	}{
		{"Nil", nil, "", ""},
		{"Plain", errors.New("pool closed"), starling.EINTERNAL, "Internal error."},
		{"NotFound", fmt.Errorf("account by id: %w", starling.ErrNotFound), starling.ENOTFOUND, "not found"},
		{"Invalid", fmt.Errorf("create: %w", starling.Errorf(starling.EINVALID, "text is %d long", 501)), starling.EINVALID, "text is 501 long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := starling.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := starling.ErrorMessage(tt.err); got != tt.msg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.msg)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	notFound := fmt.Errorf("status 7: %w", starling.Errorf(starling.ENOTFOUND, "status 7 is gone"))
	if !errors.Is(notFound, starling.ErrNotFound) {
		t.Error("an ENOTFOUND error is not ErrNotFound")
	}
	if errors.Is(notFound, starling.ErrConflict) {
		t.Error("an ENOTFOUND error is ErrConflict")
	}
	stale := fmt.Errorf("edit: %w", starling.ErrStaleEdit)
	if !errors.Is(stale, starling.ErrConflict) || !errors.Is(stale, starling.ErrStaleEdit) {
		t.Error("ErrStaleEdit is not a conflict")
	}
	if errors.Is(fmt.Errorf("x: %w", starling.ErrConflict), starling.ErrStaleEdit) {
		t.Error("ErrConflict is ErrStaleEdit")
	}
}
