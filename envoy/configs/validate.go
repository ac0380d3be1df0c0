package configs

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// pgvValidator is what protoc-gen-validate generates on every message.
type pgvValidator interface{ ValidateAll() error }

// anyFullName is the descriptor name of google.protobuf.Any.
var anyFullName = (&anypb.Any{}).ProtoReflect().Descriptor().FullName()

// Validate runs the protoc-gen-validate rules (ValidateAll) on m and on the
// unpacked content of every Any below it, however deep: PGV itself treats an
// Any as opaque, and the typed_config of every filter is one. Every problem
// is reported, each with its field path.
func Validate(m proto.Message) error {
	var errs []error
	validate(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().Name()), true, &errs)
	return errors.Join(errs...)
}

// validate checks m itself when self is set (the root and each unpacked Any:
// PGV's ValidateAll already recurses into ordinary sub-messages) and walks on
// to find the Anys below.
func validate(m protoreflect.Message, path string, self bool, errs *[]error) {
	if m.Descriptor().FullName() == anyFullName {
		a, ok := m.Interface().(*anypb.Any)
		if !ok { // a dynamic Any: re-read it as the generated type
			a = &anypb.Any{}
			b, err := proto.Marshal(m.Interface())
			if err == nil {
				err = proto.Unmarshal(b, a)
			}
			if err != nil {
				*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
				return
			}
		}
		inner, err := a.UnmarshalNew()
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: unpack %s: %w", path, a.GetTypeUrl(), err))
			return
		}
		validate(inner.ProtoReflect(), path+"<"+string(inner.ProtoReflect().Descriptor().Name())+">", true, errs)
		return
	}
	if v, ok := m.Interface().(pgvValidator); ok && self {
		if err := v.ValidateAll(); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList() && isMessage(fd):
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				validate(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i), false, errs)
			}
		case fd.IsMap() && isMessage(fd.MapValue()):
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				validate(mv.Message(), fmt.Sprintf("%s[%v]", p, k.Interface()), false, errs)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && isMessage(fd):
			validate(v.Message(), p, false, errs)
		}
		return true
	})
}

func isMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
}
