package media

import "strings"

// formCase is a body and what a Form makes of it.
type formCase struct {
	name    string
	ct      string // default testCT
	body    string
	lim     FormLimits
	fields  map[string][]string
	files   []FilePart
	content map[string]string // field/filename → the bytes the sink got
	err     error
	errText string // a substring of the error
}

func formCases() []formCase {
	wav := "RIFF\x00\x00\x00\x00WAVE--XyZzy\r\n--XyZz\r\n--XyZzyX\n--XyZzy-x"
	return []formCase{{
		name: "transcription",
		body: crlf(`--XyZzy
Content-Disposition: form-data; name="file"; filename="speech.wav"
Content-Type: audio/wav

`) + wav + crlf(`
--XyZzy
Content-Disposition: form-data; name="model"

gpt-4o-transcribe
--XyZzy
Content-Disposition: form-data; name="timestamp_granularities[]"

word
--XyZzy
content-disposition: form-data; name="timestamp_granularities[]"

segment
--XyZzy--
`),
		fields:  map[string][]string{"model": {"gpt-4o-transcribe"}, "timestamp_granularities[]": {"word", "segment"}},
		files:   []FilePart{{Field: "file", Filename: "speech.wav", ContentType: "audio/wav", Size: int64(len(wav))}},
		content: map[string]string{"file/speech.wav": wav},
	}, {
		name: "image edits, preamble, padding, epilogue, UTF-8",
		body: crlf(`This is the preamble.
--XyZzy not a delimiter line
--XyZzy 	
Content-Disposition: form-data; name="image[]"; filename="a.png"
Content-Type: image/png

PNG1
--XyZzy
Content-Disposition: form-data; name="image[]"; filename="b.png"

PNG22
--XyZzy
Content-Disposition: form-data; name=prompt

Ein Fuchs 🦊 im Schnee, 雪の中の狐
--XyZzy--  
epilogue --XyZzy
`),
		fields: map[string][]string{"prompt": {"Ein Fuchs 🦊 im Schnee, 雪の中の狐"}},
		files: []FilePart{
			{Field: "image[]", Filename: "a.png", ContentType: "image/png", Size: 4},
			{Field: "image[]", Filename: "b.png", Size: 5},
		},
		content: map[string]string{"image[]/a.png": "PNG1", "image[]/b.png": "PNG22"},
	}, {
		name: "RFC 5987 names, empty file and field, folded header",
		body: crlf(`--XyZzy
Content-Disposition: form-data; name="file"; filename="rates.wav";
 filename*=UTF-8''%E2%82%AC%20rates.wav

--XyZzy
Content-Disposition: form-data; name*=iso-8859-1'de'gr%FC%DFe; name="x"

--XyZzy
Content-Disposition: form-data; name="upload"; filename=""

--XyZzy--`),
		fields: map[string][]string{"grüße": {""}},
		files: []FilePart{
			{Field: "file", Filename: "€ rates.wav"},
			{Field: "upload", Filename: ""},
		},
		content: map[string]string{"file/€ rates.wav": "", "upload/": ""},
	}, {
		name: "LF-only body",
		body: "--XyZzy\nContent-Disposition: form-data; name=\"a\"\n\none\r\n--XyZzy\nContent-Disposition: form-data; name=\"a\"\r\n\r\ntwo\n--XyZzy--",
		// in an LF body the line end before a delimiter is "\n": the CR stays
		fields: map[string][]string{"a": {"one\r", "two"}},
	}, {
		name:   "close delimiter first: an empty form",
		body:   "--XyZzy--\r\n",
		fields: map[string][]string{},
	}, {
		name: "bare LF delimiter in a CRLF body",
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\n\none\n--XyZzy") + "\n",
		err:  ErrMalformed, errText: "bare LF",
	}, {
		name: "bare LF before a delimiter in a CRLF body: content",
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\n\none") + "\n--XyZzy\r\n",
		err:  ErrTruncated,
	}, {
		name: "CRLF delimiter in an LF body",
		body: "--XyZzy\nContent-Disposition: form-data; name=\"a\"\n\none\n--XyZzy\r\n",
		err:  ErrMalformed, errText: "CRLF in an LF-only body",
	}, {
		name: "garbage after a boundary",
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\n\none\n--XyZzy  x\n"),
		err:  ErrMalformed, errText: "after the boundary",
	}, {
		name: "no closing boundary",
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\n\none\n--XyZzy-"),
		err:  ErrTruncated, errText: `part 1, "a"`,
	}, {
		name: "cut in the headers",
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\n"),
		err:  ErrTruncated, errText: "headers of part 1",
	}, {
		name: "no boundary at all",
		body: "just some bytes --XyZzyX",
		err:  ErrTruncated,
	}, {
		name: "empty body",
		err:  ErrTruncated,
	}, {
		name: "part without Content-Disposition",
		body: crlf("--XyZzy\nContent-Type: text/plain\n\none\n--XyZzy--"),
		err:  ErrMalformed, errText: "no Content-Disposition",
	}, {
		name: "attachment, not form-data",
		body: crlf("--XyZzy\nContent-Disposition: attachment; name=\"a\"\n\none\n--XyZzy--"),
		err:  ErrMalformed, errText: "not form-data",
	}, {
		name: "no name",
		body: crlf("--XyZzy\nContent-Disposition: form-data; filename=\"a.wav\"\n\none\n--XyZzy--"),
		err:  ErrMalformed, errText: "no name",
	}, {
		name: "two names",
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"model\"; name=\"prompt\"\n\none\n--XyZzy--"),
		err:  ErrMalformed, errText: "repeated name",
	}, {
		name: "two Content-Disposition headers",
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\nContent-Disposition: form-data; name=\"b\"\n\none\n--XyZzy--"),
		err:  ErrMalformed, errText: "two Content-Disposition",
	}, {
		name: "header line without a colon",
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\nbogus\n\none\n--XyZzy--"),
		err:  ErrMalformed, errText: "malformed header line",
	}, {
		name: "unterminated quote",
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\n\none\n--XyZzy--"),
		err:  ErrMalformed, errText: "unterminated",
	}, {
		name: "header block too large",
		lim:  FormLimits{MaxHeaderBytes: 64},
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\nX-Long: " + strings.Repeat("x", 64) + "\n\none\n--XyZzy--"),
		err:  ErrTooLarge, errText: "headers of part 1 longer than 64 bytes",
	}, {
		name: "field too large",
		lim:  FormLimits{MaxFieldBytes: 8},
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"prompt\"\n\n123456789\n--XyZzy--"),
		err:  ErrTooLarge, errText: `field "prompt" longer than 8 bytes`,
	}, {
		name:   "field exactly at the limit",
		lim:    FormLimits{MaxFieldBytes: 8},
		body:   crlf("--XyZzy\nContent-Disposition: form-data; name=\"prompt\"\n\n12345678\n--XyZzy--"),
		fields: map[string][]string{"prompt": {"12345678"}},
	}, {
		name: "fields too large together",
		lim:  FormLimits{MaxFieldBytes: 8, MaxFieldsBytes: 10},
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\n\n123456\n--XyZzy\nContent-Disposition: form-data; name=\"b\"\n\n123456\n--XyZzy--"),
		err:  ErrTooLarge, errText: `at field "b"`,
	}, {
		name: "too many fields",
		lim:  FormLimits{MaxFields: 1},
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XyZzy\nContent-Disposition: form-data; name=\"b\"\n\n2\n--XyZzy--"),
		err:  ErrTooLarge, errText: "more than 1 text fields",
	}, {
		name: "too many files",
		lim:  FormLimits{MaxFiles: 1},
		body: crlf("--XyZzy\nContent-Disposition: form-data; name=\"a\"; filename=a\n\n1\n--XyZzy\nContent-Disposition: form-data; name=\"b\"; filename=b\n\n2\n--XyZzy--"),
		err:  ErrTooLarge, errText: "more than 1 files",
	}, {
		name:   "quoted boundary with specials",
		ct:     `multipart/form-data; boundary="=_a b?"`,
		body:   crlf("--=_a b?\nContent-Disposition: form-data; name=\"a\"\n\n--=_a b!\n--=_a b?--"),
		fields: map[string][]string{"a": {"--=_a b!"}},
	}}
}
