package model

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// TicketsConnection pages the tickets that match filter, in the order of orderBy, as a Relay
// connection. hasPreviousPage and hasNextPage say whether any ticket lies before or after the
// page, whichever way it was paged.
func (h *ContractHistory) TicketsConnection(filter *TicketFilter, orderBy []*TicketOrder, first *int, after *string, last *int, before *string) (*TicketConnection, error) {
	list, err := h.selected(filter, orderBy)
	if err != nil {
		return nil, err
	}
	digest := h.digest(list)
	start, end := 0, len(list)
	if after != nil {
		p, err := position(*after, digest, len(list))
		if err != nil {
			return nil, err
		}
		start = p + 1
	}
	if before != nil {
		p, err := position(*before, digest, len(list))
		if err != nil {
			return nil, err
		}
		end = max(p, start)
	}
	if first != nil {
		if *first < 0 {
			return nil, &InputError{"first must not be negative"}
		}
		end = min(end, start+*first)
	}
	if last != nil {
		if *last < 0 {
			return nil, &InputError{"last must not be negative"}
		}
		start = max(start, end-*last)
	}
	c := &TicketConnection{
		Edges:      make([]*TicketEdge, end-start),
		PageInfo:   &PageInfo{HasPreviousPage: start > 0, HasNextPage: end < len(list)},
		TotalCount: len(list),
	}
	for i := range c.Edges {
		c.Edges[i] = &TicketEdge{Cursor: cursor(digest, start+i), Node: h.All[list[start+i]]}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &c.Edges[0].Cursor, &c.Edges[n-1].Cursor
	}
	return c, nil
}

// A cursor is a position in one list of tickets, bound to that list: the list's digest covers
// the contract and, in order, each ticket's upstream position and id, so a cursor stays valid
// while the filtered, ordered list is the same, whatever else changes, and fails once it is
// not. The cursor's check covers the position too: a cursor edited by hand fails rather than
// pointing elsewhere. Nothing in it is secret; it needs no key, and so holds across replicas.
const (
	cursorVersion = 1
	cursorCheck   = 12 // bytes of the check
)

func (h *ContractHistory) digest(list []int) [32]byte {
	d := sha256.New()
	d.Write([]byte(h.ContractID))
	var b []byte
	for _, p := range list {
		b = binary.AppendUvarint(b[:0], uint64(p))
		if id := h.All[p].ID; id != nil {
			b = append(b, *id...)
		}
		d.Write(append(b, 0))
	}
	var sum [32]byte
	d.Sum(sum[:0])
	return sum
}

func cursor(digest [32]byte, pos int) string {
	b := binary.AppendUvarint([]byte{cursorVersion}, uint64(pos))
	check := cursorSum(digest, b)
	return base64.RawURLEncoding.EncodeToString(append(b, check[:cursorCheck]...))
}

func cursorSum(digest [32]byte, head []byte) [32]byte {
	return sha256.Sum256(append(digest[:], head...))
}

// errCursor is the answer to every cursor that is not one of the list's: which part failed
// would help only whoever forges them.
var errCursor = &InputError{"the cursor is not one of this list's: it was altered, is from another filter or order, or the tickets changed since; page again from the start"}

// cursorEncoding reads cursors strictly: the bits of the last character past the cursor's
// last byte must be zero, as the encoder writes them. A lenient decoder reads several
// spellings as one cursor, so a cursor with its last character altered would still be taken.
var cursorEncoding = base64.RawURLEncoding.Strict()

// position returns the position a cursor of the list with digest stands for.
func position(c string, digest [32]byte, n int) (int, error) {
	b, err := cursorEncoding.DecodeString(c)
	if err != nil || len(b) < 1+1+cursorCheck || b[0] != cursorVersion {
		return 0, errCursor
	}
	head, check := b[:len(b)-cursorCheck], b[len(b)-cursorCheck:]
	pos, size := binary.Uvarint(head[1:])
	if size <= 0 || 1+size != len(head) || pos >= uint64(n) {
		return 0, errCursor
	}
	if want := cursorSum(digest, head); string(want[:cursorCheck]) != string(check) {
		return 0, errCursor
	}
	return int(pos), nil
}
