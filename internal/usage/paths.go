package usage

// The response fields the Meter reads are described as trees of nodes: the
// scanner descends only into containers on a path, skips everything else at
// byte-scanning speed, captures the raw JSON of "slot" values and decodes
// "text" strings into the output-token text.

type action uint8

const (
	actNone action = iota // descend when the node has children, else skip
	actRaw                // capture the value's raw JSON into its slot
	actText               // decode a string value into the output text
)

type slot uint8

const (
	slotNone slot = iota
	slotUsage
	slotModel
	slotTier
	slotType
	slotID        // a Responses object's id
	slotStatus    // a Responses object's status
	slotItemType  // an output item's type: counted (each), not kept
	slotContainer // an output item's container_id: counted (each)
	slotToolType  // a declared tool's type (each): the tools a stored response ran with
	slotMemory    // a code_interpreter tool's container memory_limit (each)
	nSlots
)

type node struct {
	key   string
	act   action
	slot  slot
	kids  []*node  // members, when the value is an object
	tags  []uint32 // keyTag of each kid's key (set by indexed)
	elem  *node    // element, when the value is an array
	count bool     // remember this array's length (chat "choices")
	each  bool     // actRaw: hand every captured value to the scanner's onEach
}

// child returns the member node named key, or nil.
func (n *node) child(key []byte) *node {
	if n == nil {
		return nil
	}
	t := keyTag(key)
	for i, kt := range n.tags {
		// the tag rules out nearly every other key without a call to memequal
		if kt == t && string(key) == n.kids[i].key {
			return n.kids[i]
		}
	}
	return nil
}

// keyTag packs a key's length and first and last bytes; kids' keys are
// never empty, so the empty key's 0 matches none.
func keyTag(key []byte) uint32 {
	if len(key) == 0 {
		return 0
	}
	return uint32(min(len(key), 0xffff))<<16 | uint32(key[0])<<8 | uint32(key[len(key)-1]) // the length capped to 16 bits, so the shift keeps it
}

// indexed fills the tags of the tree under n.
func indexed(n *node) *node {
	if n == nil {
		return nil
	}
	n.tags = make([]uint32, len(n.kids))
	for i, k := range n.kids {
		n.tags[i] = keyTag([]byte(k.key))
		indexed(k)
	}
	indexed(n.elem)
	return n
}

func textNode(key string) *node { return &node{key: key, act: actText} }

func rawNode(key string, s slot) *node { return &node{key: key, act: actRaw, slot: s} }

// eachNode captures every value of key (in every element of an array), not the last.
func eachNode(key string, s slot) *node { return &node{key: key, act: actRaw, slot: s, each: true} }

// toolsNode reads the tools a Responses object echoes: their types and a code
// interpreter's container size decide the fees of its tool calls.
func toolsNode() *node {
	return &node{key: "tools", elem: &node{kids: []*node{eachNode("type", slotToolType),
		{key: "container", kids: []*node{eachNode("memory_limit", slotMemory)}}}}}
}

// itemNodes are the members of an output item that tool fees are counted from.
func itemNodes() []*node {
	return []*node{eachNode("type", slotItemType), eachNode("container_id", slotContainer)}
}

// billingNodes are the top-level fields of every OpenAI response object.
func billingNodes() []*node {
	return []*node{rawNode("usage", slotUsage), rawNode("model", slotModel), rawNode("service_tier", slotTier)}
}

// chatTree reads chat.completion(.chunk), text_completion and embeddings
// objects: billing fields plus choices[].text, choices[].delta|message
// content, refusal, reasoning and tool/function call names and arguments.
func chatTree() *node {
	fn := []*node{textNode("name"), textNode("arguments")}
	msg := func(key string) *node {
		return &node{key: key, kids: []*node{
			textNode("content"), textNode("refusal"), textNode("reasoning_content"),
			{key: "tool_calls", elem: &node{kids: []*node{{key: "function", kids: fn}}}},
			{key: "function_call", kids: fn},
		}}
	}
	choice := &node{kids: []*node{textNode("text"), msg("delta"), msg("message")}}
	return &node{kids: append(billingNodes(), &node{key: "choices", elem: choice, count: true})}
}

// responseTree reads a non-streaming Responses object: billing fields, its id
// and status, plus output[].content[].text|refusal, function call names and
// arguments, and each output item's type and container (tool fees).
func responseTree() *node {
	part := &node{kids: []*node{textNode("text"), textNode("refusal")}}
	item := &node{kids: append([]*node{{key: "content", elem: part}, textNode("name"), textNode("arguments")}, itemNodes()...)}
	return &node{kids: append(billingNodes(), rawNode("id", slotID), rawNode("status", slotStatus), &node{key: "output", elem: item}, toolsNode())}
}

// responseEventTree reads one Responses stream event: its type, its delta
// (kept only for text-producing types), the billing fields, id, status and
// output item types of the response object that lifecycle events carry, and
// the item of output_item events.
func responseEventTree() *node {
	resp := append(billingNodes(), rawNode("id", slotID), rawNode("status", slotStatus),
		&node{key: "output", elem: &node{kids: itemNodes()}}, toolsNode())
	return &node{kids: []*node{
		rawNode("type", slotType),
		textNode("delta"),
		{key: "response", kids: resp},
		{key: "item", kids: itemNodes()},
	}}
}

// The trees are built once and only read afterwards.
var (
	chatRoot          = indexed(chatTree())
	responseRoot      = indexed(responseTree())
	responseEventRoot = indexed(responseEventTree())
)
