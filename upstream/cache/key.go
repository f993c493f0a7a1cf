package cache

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
)

// ParseKey reads a 32-byte key (Options.EncryptionKey) written as 64 hex digits or as base64.
func ParseKey(s string) ([]byte, error) {
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("must be 32 bytes as 64 hex digits or base64 (e.g. openssl rand -base64 32)")
}
