package model

import (
	"encoding/base64"
	"testing"
)

// FuzzCursor: whatever a client sends as a cursor, it is refused or it stands for a position in
// the list that the list's own cursor for that position also stands for: a forged cursor never
// reaches a position the list did not hand out.
func FuzzCursor(f *testing.F) {
	var digest, other [32]byte
	copy(digest[:], "the list's digest, 32 bytes long")
	copy(other[:], "another list's digest, 32 bytes.")
	const n = 40
	for _, p := range []int{0, 1, 39, 127, 128} {
		f.Add(cursor(digest, p))
		f.Add(cursor(other, p))
	}
	f.Add("")
	f.Add("AQA")
	f.Fuzz(func(t *testing.T, c string) {
		p, err := position(c, digest, n)
		if err != nil {
			if err != errCursor {
				t.Fatalf("%q: %v, want errCursor", c, err)
			}
			return
		}
		if p < 0 || p >= n {
			t.Fatalf("%q: position %d of a list of %d", c, p, n)
		}
		got, _ := base64.RawURLEncoding.DecodeString(c)
		want, _ := base64.RawURLEncoding.DecodeString(cursor(digest, p))
		if string(got) != string(want) {
			t.Fatalf("%q was taken for the cursor of position %d, %q", c, p, cursor(digest, p))
		}
	})
}
