package federation

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// writeRequest writes what req.Write writes, field order aside: both
// outputs, read back by http.ReadRequest, are the same request.
func TestWriteRequest(t *testing.T) {
	body := `{"type":"Create"}`
	for _, tc := range []struct {
		name  string
		build func() *http.Request
		own   bool // written by writeRequest itself, not handed to req.Write
	}{
		{"delivery", func() *http.Request {
			r, _ := http.NewRequest("POST", "https://remote.example/users/bob/inbox?x=1&y=%20", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/activity+json")
			r.Header.Set("User-Agent", "Starling/1.0 (+https://local.example/)")
			r.Header.Set("Signature-Input", `sig1=("@method" "@target-uri");created=1;keyid="k"`)
			r.Header.Add("Accept", "application/activity+json")
			r.Header.Add("Accept", "application/ld+json")
			return r
		}, true},
		{"GET, default User-Agent", func() *http.Request {
			r, _ := http.NewRequest("GET", "http://remote.example:8080/users/bob", nil)
			return r
		}, true},
		{"POST without body", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://remote.example/inbox", nil)
			r.Header["User-Agent"] = []string{""}
			return r
		}, true},
		{"Host set apart from the URL", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://127.0.0.1:9/inbox", strings.NewReader(body))
			r.Host = "remote.example"
			return r
		}, true},
		{"a field with a line break", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://remote.example/inbox", strings.NewReader(body))
			r.Header["X-Odd"] = []string{"a\r\nb"}
			return r
		}, false},
		{"an IDN host", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://bücher.example/inbox", strings.NewReader(body))
			return r
		}, false},
		{"a body of unknown length", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://remote.example/inbox", io.MultiReader(strings.NewReader(body)))
			return r
		}, false},
		{"Connection: close", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://remote.example/inbox", strings.NewReader(body))
			r.Close = true
			return r
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.build()
			host := req.Host
			if host == "" {
				host = req.URL.Host
			}
			if got := simpleRequest(req, host); got != tc.own {
				t.Errorf("simpleRequest = %v, want %v", got, tc.own)
			}
			var ours, theirs bytes.Buffer
			bw := bufio.NewWriter(&ours)
			if err := writeRequest(bw, req); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			if err := tc.build().Write(&theirs); err != nil {
				t.Fatal(err)
			}
			a, aBody := readBack(t, ours.Bytes())
			b, bBody := readBack(t, theirs.Bytes())
			if a.Method != b.Method || a.RequestURI != b.RequestURI || a.Host != b.Host ||
				a.ContentLength != b.ContentLength || !slices.Equal(a.TransferEncoding, b.TransferEncoding) || aBody != bBody {
				t.Errorf("writeRequest wrote\n%s\nreq.Write writes\n%s", ours.Bytes(), theirs.Bytes())
			}
			if !maps.EqualFunc(a.Header, b.Header, slices.Equal) {
				t.Errorf("fields %v, req.Write's %v", a.Header, b.Header)
			}
		})
	}
}

func readBack(t *testing.T, raw []byte) (*http.Request, string) {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("%v in\n%s", err, raw)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r, string(b)
}

// A body shorter than its ContentLength is an error, as with req.Write,
// not a request the server waits on.
func TestWriteRequest_ShortBody(t *testing.T) {
	r, _ := http.NewRequest("POST", "http://remote.example/inbox", strings.NewReader("{}"))
	r.ContentLength = 10
	if err := writeRequest(bufio.NewWriter(io.Discard), r); err == nil {
		t.Error("a body of 2 bytes went out as 10")
	}
}

// BenchmarkWriteRequest: a delivery's request written by writeRequest and
// by req.Write, to a discarding writer.
func BenchmarkWriteRequest(b *testing.B) {
	body := []byte(strings.Repeat("x", 1500))
	build := func() *http.Request {
		r, _ := http.NewRequest("POST", "https://remote.example/inbox", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/activity+json")
		r.Header.Set("Accept", "application/activity+json")
		r.Header.Set("User-Agent", "Starling/1.0 (+https://local.example/)")
		r.Header.Set("Date", "Fri, 04 Dec 2026 19:00:00 GMT")
		r.Header.Set("Content-Digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
		r.Header.Set("Signature-Input", `sig1=("@method" "@target-uri" "@authority" "content-digest");created=1796410000;keyid="https://local.example/users/alice/ed25519-key";alg="ed25519"`)
		r.Header.Set("Signature", "sig1=:"+strings.Repeat("A", 86)+"==:")
		r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		r.Header.Set("Idempotency-Key", "1234567890")
		return r
	}
	for _, tc := range []struct {
		name  string
		write func(*bufio.Writer, *http.Request) error
	}{
		{"writeRequest", writeRequest},
		{"Request.Write", func(w *bufio.Writer, r *http.Request) error { return r.Write(w) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w := bufio.NewWriterSize(io.Discard, 4<<10)
			r := build()
			b.ReportAllocs()
			for b.Loop() {
				// A fresh body, as each attempt builds (two allocations,
				// the same for both).
				r.Body = io.NopCloser(bytes.NewReader(body))
				if err := tc.write(w, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
