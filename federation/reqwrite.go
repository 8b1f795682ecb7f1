package federation

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// writeRequest writes req to w as HTTP/1.1, as req.Write would: request
// line, Host, User-Agent, Content-Length, the other fields, the body.
// A delivery is always the same simple request (a POST with a known
// length and plain ASCII fields), and for it req.Write's generality (its
// transfer writer, the sorted field copy, the trailer handling) cost
// 5.7 µs of the delivery client's 37 µs in a profile of warm deliveries
// (BENCHMARKS.md, issue 16's fourth pass), about twice what writeRequest
// takes (BenchmarkWriteRequest). Anything else (a chunked or
// unknown-length body, trailers, Connection: close, a field that needs
// cleaning, a host that needs Punycode) goes through req.Write unchanged.
// Fields go out in map order: HTTP gives field order no meaning, except
// among fields of one name, whose values keep theirs.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" && req.URL != nil {
		host = req.URL.Host
	}
	if !simpleRequest(req, host) {
		return req.Write(w)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	ua := "Go-http-client/1.1"
	if v, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(v) > 0 {
			ua = v[0]
		}
	}
	if ua != "" { // as req.Write: a User-Agent set empty is left out
		w.WriteString("User-Agent: ")
		w.WriteString(ua)
		w.WriteString("\r\n")
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		w.WriteString("Content-Length: ")
		var buf [20]byte
		w.Write(strconv.AppendInt(buf[:0], req.ContentLength, 10))
		w.WriteString("\r\n")
	}
	for name, values := range req.Header {
		switch name {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		for _, v := range values {
			w.WriteString(name)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	w.WriteString("\r\n")
	if !hasBody {
		return nil
	}
	n, err := io.Copy(w, req.Body)
	req.Body.Close()
	if err != nil {
		return err
	}
	if n != req.ContentLength {
		return fmt.Errorf("http: ContentLength=%d with Body length %d", req.ContentLength, n)
	}
	return nil
}

// simpleRequest reports whether writeRequest may write req itself: a
// known-length body or none, nothing req.Write would add or clean.
func simpleRequest(req *http.Request, host string) bool {
	if req.URL == nil || req.Close || len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 ||
		req.Method == http.MethodConnect || host == "" || !httpguts.ValidHostHeader(host) || !isASCII(host) {
		return false
	}
	if req.Method != "" && !httpguts.ValidHeaderFieldName(req.Method) {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength <= 0 {
		return false
	}
	for name, values := range req.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return false
		}
		for _, v := range values {
			// req.Write turns line breaks into spaces and trims the
			// value; those rare fields go through it.
			if !httpguts.ValidHeaderFieldValue(v) || strings.ContainsAny(v, "\r\n") ||
				(v != "" && (v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t')) {
				return false
			}
		}
	}
	return true
}
