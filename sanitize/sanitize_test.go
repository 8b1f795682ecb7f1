package sanitize

import (
	"strings"
	"testing"
)

func TestHTML(t *testing.T) {
	p := New()
	tests := []struct {
		name, in, want string
	}{
		{"paragraph", `<p>Hello <b>world</b></p>`, `<p>Hello <b>world</b></p>`},
		{"script with content", `<p>hi</p><script>alert(1)</script>`, `<p>hi</p>`},
		{"style with content", `<style>p{display:none}</style><p>x</p>`, `<p>x</p>`},
		{"iframe", `<iframe src="https://evil.example/"></iframe><p>x</p>`, `<p>x</p>`},
		{"event handler", `<p onclick="alert(1)">x</p>`, `<p>x</p>`},
		{"javascript link", `<a href="javascript:alert(1)">x</a>`, `x`},
		{"data link", `<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>`, `x`},
		{"img onerror", `<img src=x onerror=alert(1)>`, ``},
		{"svg", `<svg><script>alert(1)</script></svg>`, ``},
		{"mention kept", `<span class="h-card"><a href="https://a.example/@u" class="u-url mention">@<span>u</span></a></span>`,
			`<span class="h-card"><a href="https://a.example/@u" class="u-url mention" rel="nofollow noreferrer noopener" target="_blank">@<span>u</span></a></span>`},
		{"foreign class dropped", `<span class="evil">x</span>`, `<span>x</span>`},
		{"unclosed", `<p><b>bold`, `<p><b>bold`},
		{"nested broken", `<<script>script>alert(1)<</script>/script>`, `&lt;/script&gt;`},
		{"NUL removed", "a\x00b", "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.HTML(tt.in)
			if got != tt.want {
				t.Errorf("HTML(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	p := New()
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Alice", "Alice"},
		{"entities", "Tom &amp; Jerry", "Tom & Jerry"},
		{"tags removed", "<b>Bo</b>b", "Bob"},
		{"script content removed", "A<script>alert(1)</script>", "A"},
		{"escaped tag cannot reopen", "&lt;script&gt;x", "‹script›x"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.ContainsAny(p.Text(tt.in), "<>") {
				t.Errorf("Text(%q) kept an angle bracket", tt.in)
			}
		})
	}
}
