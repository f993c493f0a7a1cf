package upstream

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"time"
)

// ContractBody fetches the raw body of GET /contract/{contractId} with token (or the client's
// service token): the contract's own record, JSON not yet decoded, and the caller's to keep.
// A history embeds the same record in its tickets' customer; a contract without tickets has it
// only here.
func (c *Client) ContractBody(ctx context.Context, token, contractID string) (body []byte, err error) {
	if !validID.MatchString(contractID) {
		return nil, fmt.Errorf("get contract: %w", ErrInvalidID)
	}
	err = c.get(ctx, token, "/contract/"+url.PathEscape(contractID), func(b []byte) error {
		body = bytes.Clone(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get contract %q: %w", contractID, err)
	}
	return body, nil
}

// DecodeContract decodes a contract record (see ContractBody) as leniently as a history, and
// places its zoneless timestamps in the client's zone. A body that is not a JSON object, or
// names another contract, is ErrBadResponse.
func (c *Client) DecodeContract(body []byte, contractID string) (*Contract, error) {
	var k Contract
	if _, err := decodeLenient(body, &k); err != nil {
		return nil, fmt.Errorf("decode contract %q: %T: %w", contractID, err, ErrBadResponse)
	}
	if k.ID == nil || string(*k.ID) != contractID {
		return nil, fmt.Errorf("decode contract %q: the record names another contract: %w", contractID, ErrBadResponse)
	}
	k.inZone(c.zone)
	return &k, nil
}

// A RecordResult is one contract record of a batch (see Client.Contracts), with where it came
// from as a history's Result says it.
type RecordResult struct {
	Contract   *Contract
	Err        error
	Cache      string
	Age        time.Duration
	FreshUntil time.Time
	Current    time.Time
}

// Contracts fetches the records of ids at once, at most Options.Concurrency at a time, in the
// order of ids. It caches nothing: see upstream/cache.
func (c *Client) Contracts(ctx context.Context, cred Credential, ids []string) []RecordResult {
	res := make([]RecordResult, len(ids))
	c.each(len(ids), func(i int) {
		res[i].Cache = CacheMiss
		body, err := c.ContractBody(ctx, cred.Token, ids[i])
		if err == nil {
			res[i].Contract, err = c.DecodeContract(body, ids[i])
		}
		res[i].Err = err
	})
	return res
}
