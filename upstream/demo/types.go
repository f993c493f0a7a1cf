package demo

// This file holds the wire shapes of a history response. Field names and order mirror
// example.json, so a generated ticket reads like the example; fields whose JSON kind varies
// upstream (docs/upstream.md, "Type hazards") are typed any and filled with either kind.
// Decoding example.json into these types and encoding it again gives back the same value (a
// test checks it), which is how we know the types cover every field of the example.

// history is the response body: every ticket of a contract, oldest first. An element is a
// *ticket, or the example ticket as raw JSON so that it is served byte for byte as parsed.
type history struct {
	Tickets []any `json:"tickets"`
}

// ticket is one ticket of a contract's history.
type ticket struct {
	ID                          int64            `json:"id"`
	Direction                   string           `json:"direction"`
	From                        *string          `json:"from"`
	FromName                    string           `json:"fromName"`
	To                          []string         `json:"to"`
	CcEmails                    []string         `json:"ccEmails"`
	BccEmails                   []string         `json:"bccEmails"`
	ReplyCcEmails               []string         `json:"replyCcEmails"`
	ReplyRecipients             *replyRecipients `json:"replyRecipients"`
	SubchannelID                int              `json:"subchannelId"`
	ExternalTicketID            string           `json:"externalTicketId"`
	Sentiment                   string           `json:"sentiment"`
	Language                    string           `json:"language"`
	LanguageCode                string           `json:"languageCode"`
	AutoExecuteAt               *string          `json:"autoExecuteAt"`
	SpamStatus                  *string          `json:"spamStatus"`
	IsCustomerActive            bool             `json:"isCustomerActive"`
	Interface                   string           `json:"interface"`
	Priority                    string           `json:"priority"`
	Channel                     string           `json:"channel"`
	ChannelID                   string           `json:"channelId"`
	Status                      string           `json:"status"`
	Summary                     string           `json:"summary"`
	Subject                     string           `json:"subject"`
	BodyPlain                   string           `json:"bodyPlain"`
	Body                        string           `json:"body"`
	BodyClean                   string           `json:"bodyClean"`
	IsEscalated                 bool             `json:"isEscalated"`
	CreatedAt                   string           `json:"createdAt"`
	ModifiedAt                  *string          `json:"modifiedAt"`
	FirstResponseDueBy          string           `json:"firstResponseDueBy"`
	DueBy                       string           `json:"dueBy"`
	ClosedAt                    *string          `json:"closedAt"`
	Customer                    *customer        `json:"customer"`
	CustomerID                  string           `json:"customerId"` // a string, unlike customer.id
	ContractID                  string           `json:"contractId"` // a string, unlike contract.id
	PartnerID                   int              `json:"partnerId"`
	CustomerLegitimation        int              `json:"customerLegitimation"`
	CustomerLegitimationMessage string           `json:"customerLegitimationMessage"`
	ResponderID                 *int             `json:"responderId"`
	AgentID                     *int             `json:"agentId"`
	Agent                       *agent           `json:"agent"`
	AssignedAgentIDs            []int            `json:"assignedAgentIds"`
	AssignedAgents              []*agent         `json:"assignedAgents"`
	WorkedOnByIDs               []int            `json:"workedOnByIds"`
	WorkedOnBy                  []*agent         `json:"workedOnBy"`
	Attachments                 []*attachment    `json:"attachments"`
	AdditionalData              any              `json:"additionalData"`
	Template                    string           `json:"template"`
	Tags                        []*tag           `json:"tags"`
	TagIDs                      []int            `json:"tagIds"`
	AgentSkillsMatch            bool             `json:"agentSkillsMatch"`
	Intents                     []*intent        `json:"intents"`
	RawData                     any              `json:"rawData"`
	Workitem                    any              `json:"workitem"`
}

// replyRecipients are the addresses a reply goes to; they supersede the deprecated
// ccEmails, bccEmails and replyCcEmails.
type replyRecipients struct {
	To  []string `json:"to"`
	Cc  []string `json:"cc"`
	Bcc []string `json:"bcc"`
}

// customer is the customer a ticket belongs to, with all of their contracts.
type customer struct {
	ID             int64          `json:"id"`
	EmailMatches   bool           `json:"emailMatches"`
	Business       bool           `json:"business"`
	Company        *string        `json:"company"`
	Firstname      string         `json:"firstname"`
	Lastname       string         `json:"lastname"`
	Address        string         `json:"address"`
	Phone          int64          `json:"phone"` // above 2^31: a JSON number, as upstream
	Email          string         `json:"email"`
	Tags           []*customerTag `json:"tags"`
	Contracts      []*contract    `json:"contracts"`
	AdditionalData any            `json:"additionalData"`
}

// customerTag is a label on a customer; it has fewer fields than a ticket tag.
type customerTag struct {
	ID    int    `json:"id"`
	Color string `json:"color"`
	Name  string `json:"name"`
}

// contract is an energy supply contract as embedded in customer.contracts.
type contract struct {
	ID               any                 `json:"id"` // a number for numeric ids, else a string
	OrderID          int64               `json:"orderId"`
	Tenant           any                 `json:"tenant"`
	CustomerID       string              `json:"customerId"`
	SignupDate       int64               `json:"signupDate"` // unix seconds
	Status           string              `json:"status"`
	StatusCode       int                 `json:"statusCode"`
	StatusCodeTitle  string              `json:"statusCodeTitle"`
	Energy           string              `json:"energy"`
	EnergyTypeID     int                 `json:"energyTypeId"`
	EnergySubTypeID  int                 `json:"energySubTypeId"`
	Email            string              `json:"email"`
	Firstname        string              `json:"firstname"`
	Lastname         string              `json:"lastname"`
	DeliveryAddress  string              `json:"deliveryAddress"`
	Iban             string              `json:"iban"`
	MonthlyDeposit   float64             `json:"monthlyDeposit"`
	StartDate        int64               `json:"startDate"` // unix seconds
	EndDate          *int64              `json:"endDate"`   // unix seconds
	Consumption      int                 `json:"consumption"`
	CounterNumber    string              `json:"counterNumber"`
	ProductID        int                 `json:"productId"`
	ProductName      string              `json:"productName"`
	ProductCode      string              `json:"productCode"`
	CampaignID       int                 `json:"campaignId"`
	SalesChannelID   int                 `json:"salesChannelId"`
	UnpaidDebt       float64             `json:"unpaidDebt"`
	VatRate          float64             `json:"vatRate"`
	BasePrice        float64             `json:"basePrice"`
	WorkingPrice     float64             `json:"workingPrice"`
	BillingAddress   *string             `json:"billingAddress"`
	Business         bool                `json:"business"`
	Phone            int64               `json:"phone"`
	GridOperatorName string              `json:"gridOperatorName"`
	GridOperatorCode int64               `json:"gridOperatorCode"` // 13 digits
	Registers        []any               `json:"registers"`
	ErpUrls          []*erpURL           `json:"erpUrls"`
	RawData          any                 `json:"rawData"`
	AgentPreview     []*agentPreviewItem `json:"agentPreview"`
	TabPreview       *tabPreview         `json:"tabPreview"`
}

// erpURL links a contract to the ERP system that holds it.
type erpURL struct {
	URL  string `json:"url"`
	Logo string `json:"logo"`
}

// agentPreviewItem is one line of the contract summary shown to agents.
type agentPreviewItem struct {
	Label   string `json:"label"`
	Value   string `json:"value"`
	Tooltip string `json:"tooltip"`
	URL     string `json:"url"`
}

// tabPreview is how the contract's tab looks in the agent desk.
type tabPreview struct {
	Color string `json:"color"`
	Icon  string `json:"icon"`
}

// agent is a service agent. IsSsoOnly is 0/1 in some responses and false/true in others.
type agent struct {
	ID         int    `json:"id"`
	FirstName  string `json:"firstName"`
	LastName   string `json:"lastName"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	LastSeen   string `json:"lastSeen"`
	Type       string `json:"type"`
	IsSsoOnly  any    `json:"isSsoOnly"`
	Lang       string `json:"lang"`
	NameAlias  string `json:"nameAlias"`
	ExternalID string `json:"externalId"`
}

// attachment is a file attached to a ticket; width and height are null for non-images.
type attachment struct {
	ID               string `json:"id"`
	URL              string `json:"url"`
	Name             string `json:"name"`
	Size             int    `json:"size"`
	Width            *int   `json:"width"`
	Height           *int   `json:"height"`
	Inline           bool   `json:"inline"`
	FileEnding       string `json:"fileEnding"`
	ContentType      string `json:"contentType"`
	OriginalURL      string `json:"originalUrl"`
	ExtractedData    any    `json:"extractedData"`
	ExtractionStatus string `json:"extractionStatus"`
	ExtractionData   any    `json:"extractionData"`
}

// tag is a ticket tag. Properties is [] in one version of the docs and an object in another;
// ID is null for tags that exist only on the ticket.
type tag struct {
	ID               *int     `json:"id"`
	Name             string   `json:"name"`
	FullName         string   `json:"fullName"`
	Parent           int      `json:"parent"`
	Reference        string   `json:"reference"`
	Type             string   `json:"type"`
	Visibility       string   `json:"visibility"`
	Color            string   `json:"color"`
	Properties       any      `json:"properties"`
	Complexity       string   `json:"complexity"`
	SLA              int      `json:"sla"`
	Priority         string   `json:"priority"`
	Channels         []string `json:"channels"`
	Subchannels      []int    `json:"subchannels"`
	RoutingRelevance bool     `json:"routingRelevance"`
	DetectionDetails any      `json:"detectionDetails"`
	Assignment       []string `json:"assignment"`
	TestCase         any      `json:"testCase"`
	ModifiedBy       string   `json:"modifiedBy"`
	ModifiedAt       string   `json:"modifiedAt"`
}

// intent is what the AI recognised in a ticket and what it did about it. Tags is documented but
// missing from the example, so it is omitted when unset (only for the example's round trip);
// generated intents always carry it, as a string or as an array.
type intent struct {
	ID              int64          `json:"id"`
	Code            string         `json:"code"`
	Name            string         `json:"name"`
	ContractID      any            `json:"contractId"`
	Confidence      float64        `json:"confidence"`
	ConfidenceColor string         `json:"confidenceColor"`
	Verified        bool           `json:"verified"`
	Context         any            `json:"context"`
	MessagePreview  string         `json:"messagePreview"`
	Recipient       string         `json:"recipient"`
	Data            any            `json:"data"`
	Options         []*intentOpt   `json:"options"`
	Infos           []*intentInfo  `json:"infos"`
	ExtraInfo       *string        `json:"extraInfo"`
	Outcome         *intentOutcome `json:"outcome"`
	Tags            any            `json:"tags,omitempty"`
}

// intentOpt is an action an intent offers.
type intentOpt struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Icon        string `json:"icon"`
	Recommended bool   `json:"recommended"`
	Order       int    `json:"order"`
}

// intentInfo is a hint shown with an intent.
type intentInfo struct {
	Code      string `json:"code"`
	Type      string `json:"type"`
	Message   string `json:"message"`
	ExtraInfo string `json:"extraInfo"`
}

// intentOutcome is what happened when the intent was executed.
type intentOutcome struct {
	AiAgentID        int              `json:"aiAgentId"`
	Success          bool             `json:"success"`
	MessageLocalized string           `json:"messageLocalized"`
	InternalData     any              `json:"internalData"`
	ExecutedAt       string           `json:"executedAt"`
	UserID           int              `json:"userId"`
	Sent             bool             `json:"sent"`
	TicketClosed     bool             `json:"ticketClosed"`
	Recipient        string           `json:"recipient"`
	Message          string           `json:"message"`
	Template         string           `json:"template"`
	Sources          []*outcomeSource `json:"sources"`
	TxID             string           `json:"txId"`
}

// outcomeSource is a knowledge source an outcome relied on.
type outcomeSource struct {
	Type string `json:"type"`
	ID   int    `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
	Text string `json:"text"`
}
