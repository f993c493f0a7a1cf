package demo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file generates a contract's history. Every random choice comes from a PCG source seeded
// from a hash of the contract id (and, for the customer, of the household key), so one id gives
// the same bytes in every process, on every day: no map iteration, no wall clock.

// naiveLayout is the upstream's zoneless timestamp format ("YYYY-MM-DD HH:MM:SS").
const naiveLayout = "2006-01-02 15:04:05"

// demoNow is the fixed present of the demo data: tickets are dated before it, and recent ones are
// more often still open. A fixed date, not time.Now, keeps the bytes stable.
var demoNow = time.Date(2025, 9, 30, 12, 0, 0, 0, time.UTC).Unix()

// firstSignup is the earliest signup date of a generated contract.
var firstSignup = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// day is a day in seconds, the unit of the upstream's unix timestamps.
const day = 24 * 60 * 60

// newRand returns a generator seeded from a hash of parts, so each purpose (customer, contract,
// tickets) has its own stream and adding a field to one does not reshuffle the others.
func newRand(parts ...string) *rand.Rand {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[0:8]), binary.LittleEndian.Uint64(sum[8:16])))
}

// pick returns a random element of s.
func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// chance reports true with a probability of pct percent.
func chance(r *rand.Rand, pct int) bool { return r.IntN(100) < pct }

// between returns a random integer in [lo, hi].
func between(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// round rounds x to the given number of decimals, so it encodes as a short JSON number.
func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}

// ptr returns a pointer to a copy of v, for the nullable fields.
func ptr[T any](v T) *T { return &v }

// naive formats unix seconds in the upstream's zoneless format.
func naive(sec int64) string { return time.Unix(sec, 0).UTC().Format(naiveLayout) }

// deDate formats unix seconds as a German date (02.01.2006), as the texts use.
func deDate(sec int64) string { return time.Unix(sec, 0).UTC().Format("02.01.2006") }

// isoDate formats unix seconds as 2006-01-02, as ERP request parameters use.
func isoDate(sec int64) string { return time.Unix(sec, 0).UTC().Format("2006-01-02") }

// midnight truncates unix seconds to the start of their UTC day, as the upstream's contract
// dates are.
func midnight(sec int64) int64 { return sec - sec%day }

// firstOfNextMonth returns midnight of the first day of the month after sec.
func firstOfNextMonth(sec int64) int64 {
	t := time.Unix(sec, 0).UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC).Unix()
}

// validID reports whether id may name a demo contract: 1 to 64 letters, digits, '-' and '_'.
// Anything else never reaches the generator, as a real service would not echo odd input.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// contractIDValue is how contract.id carries id: a JSON number when id is a canonical integer
// that survives a float64 round trip (no leading zero, at most 15 digits), as the upstream's
// numeric ids do, and a string otherwise (ids like "C-1001").
func contractIDValue(id string) any {
	if id == "" || len(id) > 15 || (id[0] == '0' && len(id) > 1) {
		return id
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return id
		}
	}
	return json.Number(id)
}

// household returns the key that seeds the customer of contract id and the ids of all of that
// customer's contracts, in a fixed order. Ids ending in digits come in pairs (…4 and …5, …0 and
// …1: the last bit flipped); about a third of the pairs belong to one customer, so a client that
// follows ticket.customer.contracts[] from one of them reaches the other, and finds the same
// customer there. The example contract keeps its single contract, as example.json has it.
func household(id string) (key string, ids []string) {
	i := len(id)
	for i > 0 && id[i-1] >= '0' && id[i-1] <= '9' {
		i--
	}
	digits := id[i:]
	if digits == "" || len(digits) > 15 || id == ExampleContractID {
		return id, []string{id}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return id, []string{id}
	}
	partner := id[:i] + fmt.Sprintf("%0*d", len(digits), n^1)
	if partner == ExampleContractID {
		return id, []string{id}
	}
	key = fmt.Sprintf("%s#%d#%d", id[:i], len(digits), n>>1)
	if !chance(newRand("household", key), 30) {
		return id, []string{id}
	}
	if n&1 == 0 {
		return key, []string{id, partner}
	}
	return key, []string{partner, id}
}

// person is a customer with the parts of their address that the contract needs.
type person struct {
	c         *customer
	zip, town string
}

// newPerson generates the customer of a household, whose id is id.
func newPerson(key string, id int64) *person {
	r := newRand("customer", key)
	first, last := pick(r, firstNames), pick(r, lastNames)
	pl := pick(r, places)
	between(r, 10000, 899999) // spent (see ids.go): once the customer's id
	c := &customer{
		ID:             id,
		EmailMatches:   chance(r, 85),
		Firstname:      first,
		Lastname:       last,
		Address:        streetAddress(r),
		Phone:          phoneNumber(r),
		Email:          mailAddress(r, first, last),
		Tags:           []*customerTag{},
		AdditionalData: map[string]any{},
	}
	if chance(r, 12) {
		c.Business = true
		c.Company = ptr(fmt.Sprintf(pick(r, companyPatterns), last))
	}
	for _, i := range r.Perm(len(customerTags))[:weighted(r, 55, 30, 15)] {
		d := customerTags[i]
		c.Tags = append(c.Tags, &customerTag{ID: d.id, Color: d.color, Name: d.name})
	}
	if chance(r, 30) {
		c.AdditionalData = map[string]any{"customerSince": 2010 + r.IntN(15), "newsletter": chance(r, 50), "preferredChannel": pick(r, []string{"email", "phone", "letter"})}
	}
	return &person{c: c, zip: pl.zip, town: pl.town}
}

// weighted returns an index into weights (percentages summing to 100) chosen with those odds.
func weighted(r *rand.Rand, weights ...int) int {
	p := r.IntN(100)
	for i, w := range weights {
		if p < w {
			return i
		}
		p -= w
	}
	return len(weights) - 1
}

// streetAddress returns a street with a house number, sometimes with a letter (12a).
func streetAddress(r *rand.Rand) string {
	s := fmt.Sprintf("%s %d", pick(r, streets), between(r, 1, 120))
	if chance(r, 10) {
		s += string(rune('a' + r.IntN(3)))
	}
	return s
}

// phoneNumber returns a German phone number as the upstream sends it: digits with the country
// code and no plus, as a number above 2^31 (the example has 49123456789).
func phoneNumber(r *rand.Rand) int64 {
	var s string
	if chance(r, 70) {
		s = fmt.Sprintf("49%d%07d", pick(r, []int{151, 152, 157, 160, 162, 170, 171, 172, 174, 175, 176, 177, 178, 179}), r.IntN(10_000_000))
	} else {
		s = fmt.Sprintf("49%d%06d", pick(r, []int{30, 40, 89, 221, 69, 711, 211, 341, 351, 511, 911, 421}), r.IntN(1_000_000))
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// transliterate lower-cases a name and spells umlauts out, as mail addresses do.
func transliterate(s string) string {
	return strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "ae", "Ö", "oe", "Ü", "ue", " ", "").Replace(strings.ToLower(s))
}

// mailAddress returns a plausible address at an example domain.
func mailAddress(r *rand.Rand, first, last string) string {
	local := transliterate(first) + pick(r, []string{".", "", "_", "."}) + transliterate(last)
	if chance(r, 25) {
		local += strconv.Itoa(between(r, 1, 99))
	}
	return local + "@" + pick(r, mailDomains)
}

// germanIBAN returns a valid-format German IBAN: DE, two check digits, an 8-digit bank code
// and a 10-digit account number, with check digits computed per ISO 13616 (mod 97).
func germanIBAN(r *rand.Rand) string {
	bban := fmt.Sprintf("%d%07d%010d", between(r, 1, 8), r.IntN(10_000_000), r.Int64N(10_000_000_000))
	return fmt.Sprintf("DE%02d%s", 98-mod97(bban+"131400"), bban) // D=13, E=14, then "00"
}

// mod97 returns the remainder of a long decimal digit string divided by 97.
func mod97(digits string) int {
	m := 0
	for i := 0; i < len(digits); i++ {
		m = (m*10 + int(digits[i]-'0')) % 97
	}
	return m
}

// groupIBAN writes an IBAN in groups of four, as people type it in a message.
func groupIBAN(iban string) string {
	var b strings.Builder
	for i := 0; i < len(iban); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(iban[i:min(i+4, len(iban))])
	}
	return b.String()
}

// supply is a contract with the facts the ticket texts need beyond its JSON.
type supply struct {
	id         string
	c          *contract
	product    product
	meterStart int // the meter reading at the start of supply
}

// newSupply generates contract id of the household p.
func newSupply(id string, p *person) *supply {
	r := newRand("contract", id)
	gas := chance(r, 25)
	var offer []product
	for _, pr := range products {
		if pr.gas == gas {
			offer = append(offer, pr)
		}
	}
	pr := pick(r, offer)
	signup := midnight(firstSignup + r.Int64N(demoNow-150*day-firstSignup))
	start := signup + int64(between(r, 7, 42))*day
	between(r, 1000, 999999) // spent (see ids.go): once the orderId
	c := &contract{
		ID:             contractIDValue(id),
		OrderID:        orderID(id),
		CustomerID:     strconv.FormatInt(p.c.ID, 10),
		SignupDate:     signup,
		Status:         "active",
		StatusCode:     5000,
		Email:          p.c.Email,
		Firstname:      p.c.Firstname,
		Lastname:       p.c.Lastname,
		Iban:           germanIBAN(r),
		StartDate:      start,
		ProductID:      pr.id,
		ProductName:    pr.name,
		ProductCode:    pr.code,
		CampaignID:     between(r, 1, 20),
		SalesChannelID: between(r, 1, 8),
		VatRate:        0.19,
		Business:       p.c.Business,
		Phone:          p.c.Phone,
		ErpUrls:        []*erpURL{{URL: erpBaseURL + url.PathEscape(id), Logo: pick(r, []string{"powercloud", "sap", "schleupen"})}},
		TabPreview:     &tabPreview{Color: "green", Icon: "electricity"},
	}
	if chance(r, 15) {
		c.Tenant = pick(r, []string{"musterwerke", "beispielstrom"})
	}
	if chance(r, 20) {
		c.Firstname = pick(r, firstNames)
		c.Email = mailAddress(r, c.Firstname, c.Lastname)
	}
	c.StatusCodeTitle = c.Status
	if chance(r, 20) {
		end := start + int64(between(r, 365, 4*365))*day
		c.EndDate = &end
		if end <= demoNow {
			c.Status, c.StatusCode, c.StatusCodeTitle, c.TabPreview.Color = "terminated", 9000, "terminated", "red"
		} else {
			c.StatusCode, c.StatusCodeTitle, c.TabPreview.Color = 6000, "terminationConfirmed", "orange"
		}
	}
	meter := fmt.Sprintf("1%s%010d", pick(r, meterMakers), r.Int64N(10_000_000_000))
	if gas {
		c.Energy, c.EnergyTypeID, c.EnergySubTypeID = "gas", 2, between(r, 1, 2)
		c.Consumption = between(r, 600, 2500) * 10
		c.WorkingPrice = round(0.08+r.Float64()*0.06, 4)
		c.TabPreview.Icon = "gas"
		c.VatRate = pick(r, []float64{0.19, 0.07})
		meter = "7" + meter[1:]
	} else {
		c.Energy, c.EnergyTypeID, c.EnergySubTypeID = "electricity", 1, between(r, 1, 3)
		c.Consumption = between(r, 120, 600) * 10
		c.WorkingPrice = round(0.24+r.Float64()*0.18, 4)
	}
	c.CounterNumber = meter
	c.BasePrice = round(8.9+r.Float64()*8, 2)
	c.MonthlyDeposit = math.Round((float64(c.Consumption)*c.WorkingPrice + 12*c.BasePrice) / 12)
	if chance(r, 30) {
		c.UnpaidDebt = round(10+r.Float64()*390, 2)
	}
	c.DeliveryAddress = p.c.Address + ", " + p.zip + " " + p.town
	switch weighted(r, 75, 15, 10) {
	case 1:
		c.BillingAddress = ptr(fmt.Sprintf("Postfach %d, %s %s", between(r, 1000, 9999), p.zip, p.town))
	case 2:
		pl := pick(r, places)
		c.BillingAddress = ptr(streetAddress(r) + ", " + pl.zip + " " + pl.town)
	}
	if chance(r, 40) {
		c.Phone = phoneNumber(r)
	}
	g := pick(r, gridOperators)
	c.GridOperatorName, c.GridOperatorCode = g.name, g.code
	switch weighted(r, 40, 30, 30) {
	case 0:
		c.Registers = []any{map[string]any{}}
	case 1:
		c.Registers = []any{}
	default:
		obis, unit := "1-1:1.8.0", "kWh"
		if gas {
			obis, unit = "7-20:3.0.0", "m3"
		}
		c.Registers = []any{map[string]any{"obis": obis, "unit": unit, "meterNumber": meter}}
	}
	if chance(r, 30) {
		c.RawData = map[string]any{"source": c.ErpUrls[0].Logo, "syncedAt": naive(demoNow - int64(r.IntN(30*day))), "version": between(r, 1, 5)}
	}
	link := c.ErpUrls[0].URL
	c.AgentPreview = []*agentPreviewItem{
		{Label: "Tarif", Value: pr.name, Tooltip: fmt.Sprintf("AP: %.1f ct/kWh\nGP: %.2f €/Jahr", c.WorkingPrice*100, c.BasePrice*12), URL: link},
		{Label: "Abschlag", Value: fmt.Sprintf("%.0f €", c.MonthlyDeposit), Tooltip: "monatlich, fällig zum 1.", URL: link},
	}
	return &supply{id: id, c: c, product: pr, meterStart: between(r, 100, 90000)}
}

// reading returns the meter reading at sec, growing with the yearly consumption.
func (s *supply) reading(sec int64) int {
	years := float64(sec-s.c.StartDate) / (365 * day)
	return s.meterStart + int(math.Max(0, years)*float64(s.c.Consumption))
}

// ticketCount draws how many tickets a contract has: some none, most 3 to 15, a few 30 to 40.
func ticketCount(r *rand.Rand) int {
	switch weighted(r, 8, 7, 65, 12, 8) {
	case 0:
		return 0
	case 1:
		return between(r, 1, 2)
	case 2:
		return between(r, 3, 15)
	case 3:
		return between(r, 16, 29)
	default:
		return between(r, 30, maxTickets)
	}
}

// generate returns the history of contract id with its seeded number of tickets, or with n
// tickets when n >= 0.
func generate(id string, n int) *history {
	if id == ExampleContractID {
		return exampleContractHistory()
	}
	key, ids := household(id)
	p := newPerson(key, customerID(ids[0]))
	var own *supply
	for _, cid := range ids {
		s := newSupply(cid, p)
		p.c.Contracts = append(p.c.Contracts, s.c)
		if cid == id {
			own = s
		}
	}
	g := &ticketGen{r: newRand("tickets", id), s: own, cust: p.c, customerID: strconv.FormatInt(p.c.ID, 10), number: contractNumber(id)}
	if n < 0 {
		n = ticketCount(g.r)
	}
	h := &history{Tickets: []any{}}
	for _, t := range g.tickets(n) {
		h.Tickets = append(h.Tickets, t)
	}
	return h
}

// contractOf returns contract id's own record, as generate embeds it in the tickets of every
// contract of its customer.
func contractOf(id string) *contract {
	if id == ExampleContractID {
		return parsedExample().customer.Contracts[0]
	}
	key, ids := household(id)
	return newSupply(id, newPerson(key, customerID(ids[0]))).c
}

// exampleContractHistory is the history of ExampleContractID: the example ticket, unchanged,
// among generated tickets of the example's customer and contract.
func exampleContractHistory() *history {
	ex := parsedExample()
	s := &supply{id: ExampleContractID, c: ex.customer.Contracts[0], product: products[0], meterStart: 81250}
	g := &ticketGen{r: newRand("tickets", ExampleContractID), s: s, cust: ex.customer, customerID: ex.customerID, number: contractNumber(ExampleContractID)}
	at, err := time.Parse(naiveLayout, ex.createdAt)
	if err != nil {
		panic("demo: example createdAt: " + err.Error())
	}
	// Some tickets before the example and more after it, so it sits inside the history.
	before := g.ticketsBetween(between(g.r, 2, 3), s.c.SignupDate+3600, at.Unix()-10*day)
	after := g.ticketsBetween(between(g.r, 5, 8), at.Unix()+day, demoNow)
	h := &history{Tickets: []any{}}
	for _, t := range before {
		h.Tickets = append(h.Tickets, t)
	}
	h.Tickets = append(h.Tickets, ex.ticket)
	for _, t := range after {
		h.Tickets = append(h.Tickets, t)
	}
	return h
}

// encode renders h as the upstream does: compact JSON without HTML escaping (bodies keep their
// tags readable). It panics on failure, which would be a bug in this package's types.
//
// Encoding is about half the cost of a large history. Pre-encoding the customer and agents that
// recur in every ticket does not help: encoding/json re-validates a Marshaler's output, and
// that scan costs more than the reflection it saves.
func encode[T history | contract](v *T) []byte {
	var buf bytes.Buffer
	if h, ok := any(v).(*history); ok {
		buf.Grow(1024 + 7000*len(h.Tickets)) // a ticket is 5 to 7 kB
	}
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("demo: encode: " + err.Error())
	}
	return buf.Bytes()
}
