package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/starling-social/starling/api"
)

// hostileHTML is markup a remote server may send in anything a Mastodon
// client renders: each entry tries another way to run script, load
// content, or restyle the page. Clients render notes, field values and
// status content as trusted HTML, and display names, field names and
// content warnings as text, so none of it may come back out of the API.
var hostileHTML = []string{
	`<script>alert("script")</script>`,
	`<SCRIPT SRC=https://evil.example/x.js></SCRIPT>`,
	`<scr<script>ipt>alert("split")</script>`,
	`<<script>script>alert("doubled")<</script>/script>`,
	`<iframe src="https://evil.example/frame"></iframe>`,
	`<iframe srcdoc="&lt;script&gt;alert('srcdoc')&lt;/script&gt;"></iframe>`,
	`<style>body{background:url("javascript:alert('style')")}</style>`,
	`<p style="background-image:url(javascript:alert('inline'))">styled</p>`,
	`<img src=x onerror=alert("img")>`,
	`<svg onload=alert("svg")><circle r=1></svg>`,
	`<b onmouseover="alert('b')">hover</b>`,
	`<a href="javascript:alert('js')">js link</a>`,
	`<a href="JaVaScRiPt:alert('case')">case link</a>`,
	`<a href="jav&#x09;ascript:alert('tab')">tab link</a>`,
	`<a href=" javascript:alert('space')">space link</a>`,
	`<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>`,
	`<a href="vbscript:msgbox(1)">vb link</a>`,
	`<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/x.swf">`,
	`<form action="javascript:alert(1)"><input type=submit formaction="javascript:alert(2)"></form>`,
	`<math><mi xlink:href="javascript:alert('math')">m</mi></math>`,
	`<div><p><a href="https://ok.example/" onclick="alert('nested')"><span onfocus=alert(1) tabindex=0>nested</span></a>`,
	`<p title="</p><script>alert('attr')</script>">unclosed`,
	`<!--<script>alert('comment')</script>-->`,
	`<![CDATA[<script>alert('cdata')</script>]]>`,
	`<noscript><p title="</noscript><img src=x onerror=alert('noscript')>">`,
	`<textarea><script>alert('textarea')</script></textarea>`,
	`&lt;script&gt;alert("escaped")&lt;/script&gt;`,
	`<meta http-equiv="refresh" content="0;url=javascript:alert(1)">`,
	`<base href="javascript:alert(1)//">`,
	`<link rel=stylesheet href="https://evil.example/x.css">`,
	`<a href="https://ok.example/" style="position:fixed;top:0">overlay</a>`,
	`<b <script>alert('malformed')</script>`,
	"<sc\x00ript>alert('nul')</script>",
	`<a href="https://ok.example/`, // cut off mid-tag
}

var hostileCorpus = strings.Join(hostileHTML, "\n")

// deliverableCorpus is hostileCorpus without its NUL byte: an inbox refuses
// a body with NUL outright (400, TestUnstorableTextRefused), so what is
// posted to one must do without; documents Starling fetches keep it, and
// are cleaned.
var deliverableCorpus = strings.ReplaceAll(hostileCorpus, "\x00", "")

// hostileProfile is gary's actor with the corpus in every field a client
// renders; version tells one profile from the next.
func hostileProfile(version, hostileCorpus string) map[string]any {
	return map[string]any{
		"name":    "Hostile Harry " + version + " " + hostileCorpus,
		"summary": "<p>Bio of Harry " + version + "</p>" + hostileCorpus,
		"url":     "javascript:alert(document.domain)",
		"attachment": []any{
			map[string]any{"type": "PropertyValue", "name": "Website " + version + " " + hostileCorpus,
				"value": `<a href="https://harry.example/" rel="me">harry.example</a>` + hostileCorpus},
			map[string]any{"type": "schema:PropertyValue", "name": hostileCorpus, "value": hostileCorpus},
			map[string]any{"type": "PropertyValue", "name": "<script>alert(1)</script>Plain " + version,
				"value": `<iframe src="https://evil.example/"></iframe>text`},
		},
	}
}

// TestHostileProfile resolves a remote actor whose display name, note and
// profile fields carry hostileHTML (and whose url is javascript:), then
// has it send a signed Update(Person) with another such profile through
// the inbox; after each, GET /api/v1/accounts/:id must hold nothing a
// client would execute, and keep the harmless text and links.
func TestHostileProfile(t *testing.T) {
	peer := startGoToSocial(t)
	peer.setProfile(hostileProfile("v1", hostileCorpus))
	a := startInstance(t, "A")
	alice := a.user("alice")
	t.Cleanup(func() {
		if t.Failed() {
			peer.logRefused()
		}
	})

	id := a.resolve(alice, peer.acct())
	checkHostileAccount(t, "resolved", getAccountRaw(a, alice, id), "v1")

	peer.setProfile(hostileProfile("v2", deliverableCorpus))
	peer.sendUpdate(a.base + "/inbox")
	var raw json.RawMessage
	waitFor(t, 20*time.Second, "the Update of gary's profile to apply", func() bool {
		raw = getAccountRaw(a, alice, id)
		var acct api.Account
		return json.Unmarshal(raw, &acct) == nil && strings.Contains(acct.DisplayName, "Hostile Harry v2")
	})
	checkHostileAccount(t, "updated", raw, "v2")
}

// TestHostileStatus has the remote actor post a Create(Note) whose content
// and summary carry hostileHTML (and whose url is javascript:) to a
// Starling account that follows it; GET /api/v1/statuses/:id must hold
// nothing a client would execute, and keep the harmless text.
func TestHostileStatus(t *testing.T) {
	peer := startGoToSocial(t)
	a := startInstance(t, "A")
	alice := a.user("alice")
	aliceURI := a.base + "/users/alice"
	t.Cleanup(func() {
		if t.Failed() {
			peer.logRefused()
		}
	})
	gary := a.resolve(alice, peer.acct())
	a.follow(alice, gary)

	note := peer.postNote(map[string]any{
		"content":    "<p>Post of Harry</p>" + deliverableCorpus,
		"contentMap": map[string]string{"en": "<p>Post of Harry</p>" + deliverableCorpus},
		"summary":    "CW of Harry " + deliverableCorpus,
		"sensitive":  true,
		"url":        "javascript:alert(document.domain)",
	}, aliceURI)
	var statusID string
	waitFor(t, 20*time.Second, "gary's post in alice's home timeline", func() bool {
		var page []api.Status
		a.mustCall("GET", "/api/v1/timelines/home?limit=40", alice, nil, &page)
		for _, st := range page {
			if st.URI == note {
				statusID = st.ID
				return true
			}
		}
		return false
	})
	var raw json.RawMessage
	a.mustCall("GET", "/api/v1/statuses/"+statusID, alice, nil, &raw)
	var st api.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	checkNoDangerousStrings(t, "status", raw)
	for _, p := range htmlProblems(st.Content) {
		t.Errorf("content: %s in %q", p, st.Content)
	}
	for _, p := range textProblems(st.SpoilerText) {
		t.Errorf("spoiler_text: %s in %q", p, st.SpoilerText)
	}
	if !strings.Contains(st.Content, "Post of Harry") || !strings.Contains(st.SpoilerText, "CW of Harry") {
		t.Errorf("the harmless text is lost: content %q, spoiler_text %q", st.Content, st.SpoilerText)
	}
	if !safeURL(st.URL) {
		t.Errorf("url %q", st.URL)
	}
}

func getAccountRaw(in *instance, token, id string) json.RawMessage {
	in.t.Helper()
	var raw json.RawMessage
	in.mustCall("GET", "/api/v1/accounts/"+id, token, nil, &raw)
	return raw
}

// checkHostileAccount checks an Account entity served for a hostileProfile
// of version.
func checkHostileAccount(t *testing.T, when string, raw json.RawMessage, version string) {
	t.Helper()
	var acct api.Account
	if err := json.Unmarshal(raw, &acct); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	checkNoDangerousStrings(t, when, raw)
	for _, p := range textProblems(acct.DisplayName) {
		t.Errorf("%s: display_name: %s in %q", when, p, acct.DisplayName)
	}
	for _, p := range htmlProblems(acct.Note) {
		t.Errorf("%s: note: %s in %q", when, p, acct.Note)
	}
	if !safeURL(acct.URL) {
		t.Errorf("%s: url %q", when, acct.URL)
	}
	if len(acct.Fields) != 3 {
		t.Fatalf("%s: %d fields, want 3: %s", when, len(acct.Fields), raw)
	}
	for i, f := range acct.Fields {
		for _, p := range textProblems(f.Name) {
			t.Errorf("%s: field %d name: %s in %q", when, i, p, f.Name)
		}
		for _, p := range htmlProblems(f.Value) {
			t.Errorf("%s: field %d value: %s in %q", when, i, p, f.Value)
		}
		if f.VerifiedAt != nil {
			t.Errorf("%s: field %d verified at %s", when, i, *f.VerifiedAt)
		}
	}
	// What is harmless survives: cleaning is not emptying.
	for what, ok := range map[string]bool{
		"display name":   strings.Contains(acct.DisplayName, "Hostile Harry "+version),
		"note":           strings.Contains(acct.Note, "<p>Bio of Harry "+version+"</p>"),
		"nested link":    strings.Contains(acct.Note, `href="https://ok.example/"`),
		"field name":     strings.HasPrefix(acct.Fields[0].Name, "Website "+version),
		"field link":     strings.Contains(acct.Fields[0].Value, `href="https://harry.example/"`),
		"third field":    acct.Fields[2].Name == "Plain "+version && acct.Fields[2].Value == "text",
		"url fell back":  acct.URL == acct.URI,
		"escaped script": strings.Contains(acct.DisplayName, "‹script›alert"),
	} {
		if !ok {
			t.Errorf("%s: the %s is not as expected: %s", when, what, raw)
		}
	}
}

// checkNoDangerousStrings fails on any string anywhere in the document
// that opens a script, iframe or style element.
func checkNoDangerousStrings(t *testing.T, when string, raw json.RawMessage) {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	walkStrings("", v, func(path, s string) {
		lower := strings.ToLower(s)
		for _, tag := range []string{"<script", "<iframe", "<style"} {
			if strings.Contains(lower, tag) {
				t.Errorf("%s: %s holds %s: %q", when, path, tag, s)
			}
		}
	})
}

func walkStrings(path string, v any, fn func(path, s string)) {
	switch v := v.(type) {
	case string:
		fn(path, v)
	case map[string]any:
		for k, c := range v {
			walkStrings(path+"."+k, c, fn)
		}
	case []any:
		for i, c := range v {
			walkStrings(fmt.Sprintf("%s[%d]", path, i), c, fn)
		}
	}
}

// safeElements are the elements the sanitiser keeps (Mastodon's).
var safeElements = map[string]bool{
	"p": true, "br": true, "span": true, "a": true, "del": true, "s": true, "pre": true,
	"blockquote": true, "code": true, "b": true, "strong": true, "u": true, "i": true,
	"em": true, "ul": true, "ol": true, "li": true, "ruby": true, "rt": true, "rp": true,
}

// htmlProblems tokenises s as a browser would and returns what a client
// rendering it as HTML would execute or load: script, iframe and style
// elements (or any element the sanitiser does not keep), event handler or
// style attributes, and links to anything but http(s).
func htmlProblems(s string) []string {
	var bad []string
	lower := strings.ToLower(s)
	for _, tag := range []string{"<script", "<iframe", "<style"} {
		if strings.Contains(lower, tag) {
			bad = append(bad, tag)
		}
	}
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return bad
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			tok := z.Token()
			if !safeElements[tok.Data] {
				bad = append(bad, "element <"+tok.Data+">")
			}
			for _, attr := range tok.Attr {
				name := strings.ToLower(attr.Key)
				switch {
				case strings.HasPrefix(name, "on"):
					bad = append(bad, "event handler "+name)
				case name == "style" || name == "srcdoc":
					bad = append(bad, "attribute "+name)
				case name == "href" || name == "src" || strings.HasSuffix(name, "action") || attr.Namespace != "":
					if !safeURL(attr.Val) {
						bad = append(bad, fmt.Sprintf("%s=%q", name, attr.Val))
					}
				}
			}
		}
	}
}

// textProblems returns what makes s more than text: any angle bracket.
func textProblems(s string) []string {
	if strings.ContainsAny(s, "<>") {
		return []string{"markup"}
	}
	return nil
}

// safeURL reports whether a link to u can only navigate: an absolute
// http(s) URL, read as browsers read it (tabs and newlines dropped,
// surrounding spaces and control characters trimmed).
func safeURL(u string) bool {
	u = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, u)
	u = strings.TrimFunc(u, func(r rune) bool { return r <= ' ' })
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	scheme := strings.ToLower(p.Scheme)
	return (scheme == "http" || scheme == "https") && p.Host != ""
}

// The checks must catch what they are for, or the tests above prove nothing.
func TestHostileCheckers(t *testing.T) {
	tests := []struct {
		name, html string
		bad        bool
	}{
		{"OKMastodonLink", `<p>hi <a href="https://x.example/" rel="nofollow noopener noreferrer" target="_blank">x</a></p>`, false},
		{"OKEscaped", `&lt;script&gt;alert(1)&lt;/script&gt;`, false},
		{"OKTextMentioningJavaScript", `<p>javascript:alert(1) is text here</p>`, false},
		{"ErrScript", `<script>alert(1)</script>`, true},
		{"ErrScriptUpper", `<SCRIPT>`, true},
		{"ErrIframe", `<iframe src="https://x.example/">`, true},
		{"ErrStyleElement", `<style>p{}</style>`, true},
		{"ErrStyleAttribute", `<p style="color:red">x</p>`, true},
		{"ErrImage", `<img src="https://x.example/i.png">`, true},
		{"ErrHandler", `<b onclick=alert(1)>x</b>`, true},
		{"ErrJavaScriptLink", `<a href="javascript:alert(1)">x</a>`, true},
		{"ErrJavaScriptLinkTab", "<a href=\" java\tscript:alert(1)\">x</a>", true},
		{"ErrJavaScriptLinkEntity", `<a href="jav&#x09;ascript:alert(1)">x</a>`, true},
		{"ErrDataLink", `<A HREF="DATA:text/html,x">x</A>`, true},
		{"ErrRelativeLink", `<a href="/x">x</a>`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := htmlProblems(tt.html); (len(got) > 0) != tt.bad {
				t.Errorf("htmlProblems(%q) = %q, want bad %v", tt.html, got, tt.bad)
			}
		})
	}
	for _, s := range []string{"a <b", "a > b", "<script>"} {
		if textProblems(s) == nil {
			t.Errorf("textProblems(%q) found nothing", s)
		}
	}
	if textProblems("Harry ‹script› & co") != nil {
		t.Error("textProblems refuses plain text")
	}
}
