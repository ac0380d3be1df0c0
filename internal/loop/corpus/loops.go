package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Looping traces: every kind the loop-detection issue names.

var (
	chatModels = words("gpt-4o-mini gpt-4o gpt-4.1 gpt-4.1-mini o4-mini gpt-4o-mini-2024-07-18")
	respModels = words("gpt-5 gpt-5-mini o3 gpt-4.1 o4-mini")
)

func loopKinds() []kindSpec {
	return []kindSpec{
		{"exact_retry", LabelLoop, 24, genExactRetry},
		{"volatile_retry", LabelLoop, 30, genVolatileRetry},
		{"reworded_retry", LabelLoop, 24, genRewordedRetry},
		{"growing_tool_loop", LabelLoop, 36, genGrowingLoop},
		{"cycle2", LabelLoop, 18, func(b *builder) { genCycle(b, 2) }},
		{"cycle3", LabelLoop, 14, func(b *builder) { genCycle(b, 3) }},
	}
}

// pickAPI returns chat most of the time, else Responses (stateless or not).
func pickAPI(rng *rand.Rand, stateful bool) api {
	switch n := rng.IntN(10); {
	case n < 6:
		return apiChat
	case n < 8 || !stateful:
		return apiResponses
	default:
		return apiStateful
	}
}

func newConvo(rng *rand.Rand, a api) *convo {
	m := pick(rng, chatModels)
	if a != apiChat {
		m = pick(rng, respModels)
	}
	return &convo{api: a, model: m, params: params(rng)}
}

// agentConvo starts an agent conversation: system prompt, task, tools.
func agentConvo(rng *rand.Rand, sc *scenario, a api) *convo {
	c := newConvo(rng, a)
	c.tools = sc.tools
	t := pick(rng, topics)
	c.msgs = append(c.msgs,
		msg{role: "system", text: fmt.Sprintf("You are an autonomous %s agent. Use the tools to complete the task, one step at a time. %s", sc.name, t.sentence(rng))},
		msg{role: "user", text: sc.task(rng)})
	return c
}

// addStep appends an assistant tool call with optional prose and its result.
func (c *convo) addStep(rng *rand.Rand, s step, prose string) {
	id := callID(rng)
	c.msgs = append(c.msgs,
		msg{role: "assistant", text: prose, calls: []call{{id: id, name: s.name, args: s.args}}},
		msg{role: "tool", callID: id, text: s.output})
}

// genExactRetry: the same body again and again (a client or agent retrying).
func genExactRetry(b *builder) {
	rng := b.rng
	a := pickAPI(rng, true)
	var c *convo
	switch rng.IntN(3) {
	case 0: // a plain question
		t := pick(rng, topics)
		c = newConvo(rng, a)
		c.msgs = []msg{{role: "system", text: t.systemPrompt(rng, rng.IntN(2) == 0)}, {role: "user", text: t.question(rng)}}
	default: // an agent mid-task resending its last request
		sc := pick(rng, scenarios)
		c = agentConvo(rng, sc, a)
		for _, s := range sc.progress(rng, 1+rng.IntN(6)) {
			c.addStep(rng, s, pick(rng, thinking))
		}
	}
	body := c.body(rng)
	for range 8 + rng.IntN(4) {
		b.send(a.endpoint(), body, 300*time.Millisecond, 5*time.Second)
	}
}

// genVolatileRetry: the same request with a changing timestamp, request id,
// counter or session tag.
func genVolatileRetry(b *builder) {
	rng := b.rng
	a := pickAPI(rng, false)
	t := pick(rng, topics)
	task := t.question(rng)
	variant := rng.IntN(5)
	sc := pick(rng, scenarios)
	var prefix *convo
	var stuckCall stuck
	if variant == 4 {
		prefix = agentConvo(rng, sc, a)
		for _, s := range sc.progress(rng, 1+rng.IntN(4)) {
			prefix.addStep(rng, s, pick(rng, thinking))
		}
		stuckCall = sc.stuck(rng)
	}
	sys := t.systemPrompt(rng, rng.IntN(3) == 0)
	counter := pick(rng, []string{"Attempt %d: %s", "[retry %d/10] %s", "(try #%d) %s", "Attempt %d of 10. %s"})
	c := newConvo(rng, a)
	n := 8 + rng.IntN(7)
	for k := 1; k <= n; k++ {
		now := b.now()
		var user string
		system := sys
		switch variant {
		case 0:
			system = sys + "\nCurrent date and time: " + now.Format(time.RFC3339)
			user = fmt.Sprintf("Request ID: %s\n\n%s", uuid(rng), task)
		case 1:
			user = fmt.Sprintf(counter, k, task)
		case 2:
			user = fmt.Sprintf("%s\n\n<!-- session=%s ts=%d -->", task, id(rng, "s_", 16), now.UnixMilli())
		case 3:
			user = fmt.Sprintf("[%s] %s (trace %s)", now.Format("2006-01-02 15:04:05.000"), task, hexID(rng, 16))
		}
		if variant == 4 {
			cp := *prefix
			cp.msgs = append([]msg(nil), prefix.msgs...)
			cp.addStep(rng, step{stuckCall.name, stuckCall.args, stuckCall.output(rng, k, now)}, "")
			b.send(a.endpoint(), cp.body(rng), 500*time.Millisecond, 6*time.Second)
			continue
		}
		c.msgs = []msg{{role: "system", text: system}, {role: "user", text: user}}
		b.send(a.endpoint(), c.body(rng), 300*time.Millisecond, 6*time.Second)
	}
}

var (
	retryPrefixes = []string{"", "Please try again. ", "Try again: ", "Again: ", "One more time: ", "Retry: "}
	retrySuffixes = []string{" Thanks.", " Please be quick.", " This is urgent.", " Please answer this time."}
	synonyms      = map[string]string{"should": "must", "easier": "simpler", "first": "initially", "problem": "issue", "common": "frequent", "Try": "Attempt", "best": "ideal", "works": "performs", "mistake": "error", "helps": "is useful"}
)

// genRewordedRetry: a task resent with a few words changed each time: a word
// added, dropped or replaced by a synonym, a closing remark on or off, under
// the client's fixed retry prefix.
func genRewordedRetry(b *builder) {
	rng := b.rng
	a := pickAPI(rng, false)
	t := pick(rng, topics)
	task := strings.Fields(fmt.Sprintf("%s %s %s", t.paragraph(rng, 2+rng.IntN(4)), t.question(rng), t.sentence(rng)))
	sys := t.systemPrompt(rng, rng.IntN(3) == 0)
	prefix, suffix := pick(rng, retryPrefixes), pick(rng, retrySuffixes)
	c := newConvo(rng, a)
	for range 8 + rng.IntN(7) {
		w := append([]string(nil), task...)
		for range 1 + rng.IntN(2) {
			i := rng.IntN(len(w))
			switch syn, ok := synonyms[w[i]]; {
			case ok:
				w[i] = syn
			case rng.IntN(2) == 0:
				w = append(w[:i], append([]string{pick(rng, fillers)}, w[i:]...)...)
			default:
				w = append(w[:i], w[i+1:]...)
			}
		}
		user := prefix + strings.Join(w, " ")
		if rng.IntN(2) == 0 {
			user += suffix
		}
		c.msgs = []msg{{role: "system", text: sys}, {role: "user", text: user}}
		b.send(a.endpoint(), c.body(rng), 300*time.Millisecond, 6*time.Second)
	}
}

// genGrowingLoop: an agent makes some progress, then issues the same call and
// gets the same error every turn while the conversation grows.
func genGrowingLoop(b *builder) {
	rng := b.rng
	a := pickAPI(rng, true)
	sc := pick(rng, scenarios)
	c := agentConvo(rng, sc, a)
	b.send(a.endpoint(), c.body(rng), time.Second, 6*time.Second)
	for _, s := range sc.progress(rng, rng.IntN(4)) {
		c.addStep(rng, s, pick(rng, thinking))
		b.send(a.endpoint(), c.body(rng), time.Second, 6*time.Second)
	}
	b.tr.Onset = len(b.tr.Requests)
	st := sc.stuck(rng)
	n := 9 + rng.IntN(4)
	for k := 1; k <= n; k++ {
		c.addStep(rng, step{st.name, st.args, st.output(rng, k, b.now())}, pick(rng, thinking))
		b.send(a.endpoint(), c.body(rng), 700*time.Millisecond, 6*time.Second)
	}
}

// genCycle: a ping-pong between period states. Most are agents whose calls
// alternate with unchanging results; some are clients alternating prompts.
func genCycle(b *builder, period int) {
	rng := b.rng
	a := pickAPI(rng, true)
	if rng.IntN(4) == 0 {
		t := pick(rng, topics)
		sys := t.systemPrompt(rng, false)
		var bodies [3][]byte
		c := newConvo(rng, a)
		for i := range period {
			c.msgs = []msg{{role: "system", text: sys}, {role: "user", text: t.question(rng)}}
			bodies[i] = c.body(rng)
		}
		for i := range 12 + rng.IntN(6) {
			b.send(a.endpoint(), bodies[i%period], 500*time.Millisecond, 5*time.Second)
		}
		return
	}
	sc := pick(rng, scenarios)
	c := agentConvo(rng, sc, a)
	b.send(a.endpoint(), c.body(rng), time.Second, 6*time.Second)
	for _, s := range sc.progress(rng, rng.IntN(4)) {
		c.addStep(rng, s, pick(rng, thinking))
		b.send(a.endpoint(), c.body(rng), time.Second, 6*time.Second)
	}
	b.tr.Onset = len(b.tr.Requests)
	states := sc.cycle(rng, period)
	for i := range 10 + rng.IntN(4) {
		c.addStep(rng, states[i%period], pick(rng, thinking))
		b.send(a.endpoint(), c.body(rng), 700*time.Millisecond, 5*time.Second)
	}
}
