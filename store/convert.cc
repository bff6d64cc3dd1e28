#include "store/convert.h"

#include "common/time_format.h"

namespace sitechain::store {

void ToProto(const ReleaseRecord& in, v1::Release* out) {
  out->set_name(in.name);
  out->set_version(in.version);
  out->set_release_counter(in.release_counter);
  out->set_developer(in.developer);
  out->set_digest_algorithm(in.digest_algorithm);
  out->set_digest(in.digest);
  out->set_size(in.size);
  out->set_published_at(FormatTime(in.published_at));
  out->set_revoked(in.revoked);
  out->set_revocation_reason(in.revocation_reason);
}

void ToProto(const RevocationRecord& in, v1::Revocation* out) {
  out->set_sequence(in.sequence);
  out->set_kind(in.kind == RevocationRecord::Kind::kDeveloper ? v1::Revocation::DEVELOPER
                                                              : v1::Revocation::RELEASE);
  out->set_developer(in.developer);
  out->set_developer_serial(in.developer_serial);
  out->set_name(in.name);
  out->set_version(in.version);
  out->set_digest(in.digest);
  out->set_reason(in.reason);
  out->set_revoked_at(FormatTime(in.revoked_at));
  out->set_revoked_by(in.revoked_by);
}

void ToProto(const TokenRecord& in, v1::TokenInfo* out) {
  out->set_id(in.id);
  out->set_note(in.note);
  out->set_created_at(FormatTime(in.created_at));
  out->set_expires_at(FormatTime(in.expires_at));
  if (in.used_at) out->set_used_at(FormatTime(*in.used_at));
  out->set_used_by(in.used_by);
}

void ToProto(const DeveloperRecord& in, v1::Developer* out) {
  out->set_name(in.name);
  out->set_serial(in.serial);
  out->set_fingerprint(in.fingerprint);
  out->set_key_type(in.key_type);
  out->set_registered_at(FormatTime(in.registered_at));
  out->set_not_after(FormatTime(in.not_after));
  out->set_revoked(in.revoked_at.has_value());
  out->set_revocation_reason(in.revocation_reason);
}

void ToProto(const StoreStats& in, v1::Stats* out) {
  out->set_developers(in.developers);
  out->set_revoked_developers(in.revoked_developers);
  out->set_releases(in.releases);
  out->set_revoked_releases(in.revoked_releases);
  out->set_active_tokens(in.active_tokens);
  out->set_blob_bytes(in.blob_bytes);
  out->set_last_revocation_sequence(in.last_revocation_sequence);
  out->set_audit_entries(in.audit_entries);
}

}  // namespace sitechain::store
