// Package canary marks the soak's upstream data so that every answer can be checked: the
// upstream stub (bench/stub -canary) writes a mark into each ticket it serves, naming the
// caller's token (by a digest, never the token) and the contract's current version, and the
// soak (bench/soak) reads the marks back out of the facade's answers. An answer for one token
// holding another token's mark is a cross-token leak; one holding a version older than an
// acknowledged invalidation is stale.
package canary

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
)

// Tag names a token in marks: "tok-" and the first 12 hex digits of its SHA-256. It contains no
// character JSON escapes, so a mark reads the same in any answer.
func Tag(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "tok-" + hex.EncodeToString(sum[:6])
}

// Mark is what one ticket says about where it came from.
type Mark struct {
	Tag      string // the token that fetched it (Tag)
	Contract string
	Version  int64
}

// String is the mark as the stub writes it, as a ticket's subject and its first tag's name:
// "canary tok-0123456789ab c=100001 v=3".
func (m Mark) String() string {
	return "canary " + m.Tag + " c=" + m.Contract + " v=" + strconv.FormatInt(m.Version, 10)
}

// Contract ids are what the upstream admits: 1-64 letters, digits, '-' and '_'.
var markRE = regexp.MustCompile(`canary (tok-[0-9a-f]{12}) c=([A-Za-z0-9_-]{1,64}) v=([0-9]{1,18})`)

// Find returns every mark in b, in order, repeats included.
func Find(b []byte) []Mark {
	var out []Mark
	for _, m := range markRE.FindAllSubmatch(b, -1) {
		v, err := strconv.ParseInt(string(m[3]), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, Mark{Tag: string(m[1]), Contract: string(m[2]), Version: v})
	}
	return out
}
