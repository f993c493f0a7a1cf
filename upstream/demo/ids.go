package demo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// This file numbers the demo's objects. Enneo's ids are unique: a ticket id is one ticket, an
// agent id one agent, whichever contract's history shows it, and clients rely on that (Apollo
// Client's normalised cache keys objects by type and id, so two tickets with one id show each
// other's subject). The generator writes each history on its own, with no counter shared between
// contracts, so every id follows from the contract and the object's place in its history:
//
//   - a contract's number is its id when that is a number of at most 10 digits (746839, 100001);
//     any other id (C-1001, 007, longer numbers) gets 10^10 plus a hash of it below 8.9·10^11,
//     distinct from every numeric one and from the other hashed ones unless two hash alike (for
//     a thousand such ids, a chance of about one in two million);
//   - ticket: the contract's number × 100 + the ticket's place in the history (1 to maxTickets,
//     oldest first), so ids grow with creation time within a history, as Enneo's do;
//   - intent and attachment: the ticket's id × 100 + their place in the ticket (1 or 2);
//   - an outcome's txId: its intent's id scrambled into 14 hex digits;
//   - customer: 1,000,000 + the number of the first contract of the household, so the customer
//     of two contracts has one id; orderId: 2,000,000 + the contract's number;
//   - externalTicketId: "EXT-" and the ticket's id in at least 7 digits.
//
// All of them stay below 2^53, so a client that reads JSON numbers as doubles keeps every digit.
// The example's own ids lie outside these ranges: ticket 376189 (generated ones end in 01 to
// 40), customer 83771, intent 1211221 (generated ones end in 01 or 02), attachment
// "103013960646,", orderId 123, "EXT-12345" and txId c916167c94 (10 hex digits). Agents, tags,
// products and knowledge sources come from the lists in words.go and look the same in every
// ticket (see renderedAgents and renderedTags).
//
// The generator once drew these ids at random. Where it did, it still makes the draw and drops
// the value (marked "spent"), so that every other value of a history, the subjects, dates,
// statuses and counts that README.md, docs/ and tests elsewhere rely on, is what it was.

// maxTickets is the most tickets a generated history holds; it keeps the last two digits of
// every generated ticket id between 01 and 40.
const maxTickets = 40

// contractNumber returns the number that stands for contract id in the ids of its objects.
func contractNumber(id string) int64 {
	if n, ok := contractIDValue(id).(json.Number); ok && len(id) <= 10 {
		v, err := n.Int64()
		if err == nil {
			return v
		}
	}
	h := sha256.Sum256([]byte("contract number\x00" + id))
	return 1e10 + int64(binary.LittleEndian.Uint64(h[:8])%8.9e11)
}

// ticketID returns the id of the seq-th ticket (from 1) of the contract numbered contract.
func ticketID(contract int64, seq int) int64 {
	if seq < 1 || seq > maxTickets {
		panic(fmt.Sprintf("demo: ticket %d of a history, want 1 to %d", seq, maxTickets))
	}
	return contract*100 + int64(seq)
}

// partID returns the id of the seq-th intent or attachment (1 or 2) of ticket.
func partID(ticket int64, seq int) int64 { return ticket*100 + int64(seq) }

// txID returns the transaction id of the outcome of intent: the id times an odd number modulo
// 2^56, which maps distinct ids (all below 2^53) to distinct values, in 14 hex digits.
func txID(intent int64) string {
	return fmt.Sprintf("%014x", uint64(intent)*0x9e3779b97f4a7c15&(1<<56-1))
}

// customerID returns the id of the customer whose household's first contract is first.
func customerID(first string) int64 { return 1_000_000 + contractNumber(first) }

// orderID returns the orderId of contract id.
func orderID(id string) int64 { return 2_000_000 + contractNumber(id) }

// externalTicketID returns the externalTicketId of ticket id.
func externalTicketID(id int64) string { return fmt.Sprintf("EXT-%07d", id) }
