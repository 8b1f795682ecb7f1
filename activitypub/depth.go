package activitypub

import "fmt"

// MaxDepth is how deeply a remote document may nest objects and arrays.
// Real activities nest four or five levels (an Announce of a Create of a
// Note with a tag list); Go's decoder would accept 10,000, which in a
// megabyte of brackets is a cheap way to make every later walk of the
// decoded document expensive.
const MaxDepth = 64

// CheckDepth reports an error if data, a JSON document, nests objects and
// arrays deeper than max. It scans without decoding (strings and their
// escapes are skipped), so a document is refused before any work is spent
// on it; malformed JSON is left for the decoder to refuse.
func CheckDepth(data []byte, max int) error {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return fmt.Errorf("JSON nests deeper than %d levels", max)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}
