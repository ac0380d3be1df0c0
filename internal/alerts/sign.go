package alerts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// Header names of a signed delivery.
const (
	HeaderTimestamp = "X-Proxide-Timestamp" // Unix seconds of the attempt
	HeaderSignature = "X-Proxide-Signature" // "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderEventID   = "X-Proxide-Event-Id"
)

// DefaultReplayWindow is how far a receiver should accept a timestamp from
// its own clock. Each retry is signed afresh, so a late retry still passes.
const DefaultReplayWindow = 5 * time.Minute

// Sign returns the signature header value of body sent at ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("alerts: signature does not match")
	ErrStale        = errors.New("alerts: timestamp outside the replay window")
)

// Verify checks a delivery as a receiver would: the signature over the
// timestamp header and the raw body, and the timestamp within window of now
// (so a captured delivery cannot be replayed later).
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, window time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > window || d < -window {
		return ErrStale
	}
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}
