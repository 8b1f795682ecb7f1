package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestBenchSign(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"bench", "sign", "--json", "--signatures", "3"}, os.Getenv, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r signResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if r.PerSignature <= 0 {
		t.Errorf("no timing: %+v", r)
	}

	for _, args := range [][]string{{"--signatures", "0"}, {"extra"}} {
		errOut.Reset()
		if code := run(t.Context(), append([]string{"bench", "sign"}, args...), os.Getenv, &out, &errOut); code == 0 {
			t.Errorf("bench sign %v: exit 0", args)
		} else if !strings.Contains(errOut.String(), "starling bench sign: ") {
			t.Errorf("bench sign %v: %q names no problem", args, errOut.String())
		}
	}
}
