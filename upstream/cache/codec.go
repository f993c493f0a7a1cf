package cache

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/zstd"
)

// How a cache entry is stored. A value is the upstream's body as it came (so the entry can be
// decoded again exactly like a fresh response) compressed with zstd, behind a small header:
//
//	format (1 byte: formatPlain or formatSealed)
//	kind (1) | fetched (8, unix ms) | fresh until (8) | stale until (8) | zstd(body)
//
// A sealed value keeps the format byte in the clear and seals the rest with AES-256-GCM under
// a random nonce, with the entry's key name as associated data: a value copied under another key
// (another scope or contract) fails to open and counts as a miss.
//
// zstd was measured against gzip and s2 on a 40-ticket demo history of 290 KB: zstd 20.8 KB
// (decoded in 0.17 ms), s2 30.6 KB (0.10 ms), gzip level 1 42.3 KB (0.58 ms). Decoding the JSON
// itself costs several milliseconds more than any of them, which the hot layer saves.
const (
	formatPlain  byte = 1
	formatSealed byte = 2

	kindHistory  byte = 1
	kindNotFound byte = 2

	headerSize = 1 + 8 + 8 + 8
)

// stored is a cache entry's content.
type stored struct {
	kind       byte
	fetched    time.Time
	freshUntil time.Time
	staleUntil time.Time
	body       []byte // the upstream's body, for kindHistory
}

// codec encodes and decodes stored entries.
type codec struct {
	aead cipher.AEAD // nil: values are not encrypted
	zstd *zstd.Decoder
}

var (
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	errEntry       = errors.New("unreadable cache entry")
)

// newCodec returns a codec; key, when given, must be 32 bytes (AES-256).
func newCodec(key []byte, maxBody int64) (*codec, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(uint64(maxBody)), zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, err
	}
	c := &codec{zstd: dec}
	if key == nil {
		return c, nil
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("cache encryption key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if c.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return c, nil
}

// keyName is the associated data a sealed value is bound to.
func keyName(k EntryKey) []byte {
	return []byte("contract-history\x00" + k.ContractID + "\x00" + k.Scope)
}

func (c *codec) encode(k EntryKey, s stored) []byte {
	inner := make([]byte, headerSize, headerSize+len(s.body)/8)
	inner[0] = s.kind
	binary.BigEndian.PutUint64(inner[1:], uint64(s.fetched.UnixMilli()))
	binary.BigEndian.PutUint64(inner[9:], uint64(s.freshUntil.UnixMilli()))
	binary.BigEndian.PutUint64(inner[17:], uint64(s.staleUntil.UnixMilli()))
	inner = zstdEncoder.EncodeAll(s.body, inner)
	if c.aead == nil {
		return append([]byte{formatPlain}, inner...)
	}
	out := make([]byte, 1+c.aead.NonceSize(), 1+c.aead.NonceSize()+len(inner)+c.aead.Overhead())
	out[0] = formatSealed
	rand.Read(out[1:])
	return c.aead.Seal(out, out[1:], inner, keyName(k))
}

// decode reads a value written by encode under the same key. A value in the other format
// (encryption switched on or off since) or that fails to open is unreadable: a miss.
func (c *codec) decode(k EntryKey, v []byte) (stored, error) {
	if len(v) == 0 {
		return stored{}, errEntry
	}
	inner := v[1:]
	switch {
	case v[0] == formatPlain && c.aead == nil:
	case v[0] == formatSealed && c.aead != nil && len(inner) >= c.aead.NonceSize():
		var err error
		n := c.aead.NonceSize()
		if inner, err = c.aead.Open(nil, inner[:n], inner[n:], keyName(k)); err != nil {
			return stored{}, errEntry
		}
	default:
		return stored{}, errEntry
	}
	if len(inner) < headerSize {
		return stored{}, errEntry
	}
	s := stored{
		kind:       inner[0],
		fetched:    time.UnixMilli(int64(binary.BigEndian.Uint64(inner[1:]))),
		freshUntil: time.UnixMilli(int64(binary.BigEndian.Uint64(inner[9:]))),
		staleUntil: time.UnixMilli(int64(binary.BigEndian.Uint64(inner[17:]))),
	}
	body, err := c.zstd.DecodeAll(inner[headerSize:], nil)
	if err != nil {
		return stored{}, errEntry
	}
	s.body = body
	return s, nil
}
