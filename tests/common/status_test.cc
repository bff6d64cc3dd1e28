#include "common/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace sitechain {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s(StatusCode::kNotFound, "no such key k.pem");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "no such key k.pem");
  EXPECT_EQ(s.ToString(), "NOT_FOUND: no such key k.pem");
}

TEST(StatusTest, CopiesAreIndependent) {
  Status a = InvalidArgument("bad");
  Status b = a;
  b = b.WithContext("ctx");
  EXPECT_EQ(a.message(), "bad");
  EXPECT_EQ(b.message(), "ctx: bad");
}

TEST(StatusTest, CodeNamesFollowGrpc) {
  const std::vector<std::pair<StatusCode, std::string>> names = {
      {StatusCode::kOk, "OK"},
      {StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
      {StatusCode::kNotFound, "NOT_FOUND"},
      {StatusCode::kAlreadyExists, "ALREADY_EXISTS"},
      {StatusCode::kPermissionDenied, "PERMISSION_DENIED"},
      {StatusCode::kFailedPrecondition, "FAILED_PRECONDITION"},
      {StatusCode::kUnauthenticated, "UNAUTHENTICATED"},
      {StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
      {StatusCode::kDataLoss, "DATA_LOSS"},
      {StatusCode::kUnavailable, "UNAVAILABLE"},
      {StatusCode::kInternal, "INTERNAL"},
  };
  for (const auto& [code, name] : names) {
    EXPECT_EQ(StatusCodeName(code), name);
  }
}

TEST(StatusTest, FactoriesSetTheirCode) {
  EXPECT_EQ(InvalidArgument("m").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NotFound("m").code(), StatusCode::kNotFound);
  EXPECT_EQ(AlreadyExists("m").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(PermissionDenied("m").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(FailedPrecondition("m").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Unauthenticated("m").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(ResourceExhausted("m").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(DataLoss("m").code(), StatusCode::kDataLoss);
  EXPECT_EQ(Unavailable("m").code(), StatusCode::kUnavailable);
  EXPECT_EQ(Internal("m").code(), StatusCode::kInternal);
  EXPECT_EQ(DataLoss("truncated").message(), "truncated");
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsCode) {
  Status s = PermissionDenied("mode 0644").WithContext("key file k.pem");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "key file k.pem: mode 0644");
  EXPECT_EQ(s.ToString(), "PERMISSION_DENIED: key file k.pem: mode 0644");
  // Context nests outermost first.
  EXPECT_EQ(s.WithContext("load").message(), "load: key file k.pem: mode 0644");
}

TEST(StatusTest, WithContextOnOkStaysOk) {
  Status s = Status::Ok().WithContext("ctx");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(ResultTest, HoldsValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  *r = 7;
  EXPECT_EQ(r.value(), 7);
}

TEST(ResultTest, HoldsError) {
  Result<int> r = NotFound("missing");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "missing");
  EXPECT_EQ(ToStatus(r).code(), StatusCode::kNotFound);
}

TEST(ResultTest, ArrowReachesMembers) {
  Result<std::string> r = std::string("hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 5u);
  const Result<std::string>& cr = r;
  EXPECT_EQ(cr->front(), 'h');
  EXPECT_EQ(*cr, "hello");
}

TEST(ResultTest, MovesOutMoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 5);
}

#ifdef NDEBUG
TEST(ResultTest, OkStatusWithoutValueBecomesInternal) {
  Result<int> r = Status::Ok();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}
#else
TEST(ResultDeathTest, OkStatusWithoutValueAborts) {
  EXPECT_DEATH({ Result<int> r = Status::Ok(); }, "");
}
#endif

// --- macros ---

int g_evaluations = 0;

Status CountedStatus(Status s) {
  ++g_evaluations;
  return s;
}

Result<int> CountedResult(Result<int> r) {
  ++g_evaluations;
  return r;
}

Status ReturnIfErrorOnStatus(Status inner, bool* reached_end) {
  SITECHAIN_RETURN_IF_ERROR(CountedStatus(std::move(inner)));
  *reached_end = true;
  return Status::Ok();
}

Status ReturnIfErrorOnResult(Result<int> inner, bool* reached_end) {
  SITECHAIN_RETURN_IF_ERROR(CountedResult(std::move(inner)));
  *reached_end = true;
  return Status::Ok();
}

TEST(StatusMacrosTest, ReturnIfErrorPassesOkThrough) {
  g_evaluations = 0;
  bool reached = false;
  EXPECT_TRUE(ReturnIfErrorOnStatus(Status::Ok(), &reached).ok());
  EXPECT_TRUE(reached);
  EXPECT_EQ(g_evaluations, 1);
}

TEST(StatusMacrosTest, ReturnIfErrorReturnsErrorOnce) {
  g_evaluations = 0;
  bool reached = false;
  Status s = ReturnIfErrorOnStatus(DataLoss("torn"), &reached);
  EXPECT_FALSE(reached);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "torn");
  EXPECT_EQ(g_evaluations, 1);
}

TEST(StatusMacrosTest, ReturnIfErrorAcceptsResult) {
  g_evaluations = 0;
  bool reached = false;
  EXPECT_TRUE(ReturnIfErrorOnResult(3, &reached).ok());
  EXPECT_TRUE(reached);

  reached = false;
  Status s = ReturnIfErrorOnResult(Unavailable("busy"), &reached);
  EXPECT_FALSE(reached);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(g_evaluations, 2);
}

TEST(StatusMacrosTest, ReturnIfErrorIsOneStatement) {
  // The macro must behave as a single statement in an unbraced if/else.
  auto f = [](bool check) -> Status {
    if (check)
      SITECHAIN_RETURN_IF_ERROR(Internal("boom"));
    else
      return AlreadyExists("else branch");
    return Status::Ok();
  };
  EXPECT_EQ(f(true).code(), StatusCode::kInternal);
  EXPECT_EQ(f(false).code(), StatusCode::kAlreadyExists);
}

Result<int> AddTwo(Result<int> a, Result<int> b) {
  SITECHAIN_ASSIGN_OR_RETURN(int x, CountedResult(std::move(a)));
  SITECHAIN_ASSIGN_OR_RETURN(int y, CountedResult(std::move(b)));
  return x + y;
}

TEST(StatusMacrosTest, AssignOrReturnAssignsValues) {
  g_evaluations = 0;
  Result<int> r = AddTwo(2, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 5);
  EXPECT_EQ(g_evaluations, 2);
}

TEST(StatusMacrosTest, AssignOrReturnReturnsFirstError) {
  g_evaluations = 0;
  Result<int> r = AddTwo(InvalidArgument("first"), NotFound("second"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "first");
  EXPECT_EQ(g_evaluations, 1);  // the second expression is never evaluated

  Result<int> r2 = AddTwo(1, NotFound("second"));
  EXPECT_EQ(r2.status().code(), StatusCode::kNotFound);
}

Status MoveOnlyConsumer(Result<std::unique_ptr<std::string>> in, std::string* out) {
  SITECHAIN_ASSIGN_OR_RETURN(std::unique_ptr<std::string> p, std::move(in));
  *out = *p;
  return Status::Ok();
}

TEST(StatusMacrosTest, AssignOrReturnWorksWithMoveOnlyTypes) {
  std::string out;
  EXPECT_TRUE(MoveOnlyConsumer(std::make_unique<std::string>("moved"), &out).ok());
  EXPECT_EQ(out, "moved");
  EXPECT_EQ(MoveOnlyConsumer(Unauthenticated("no"), &out).code(), StatusCode::kUnauthenticated);
}

Status AssignToExisting(Result<std::string> in, std::string* out) {
  std::string local = "unchanged";
  SITECHAIN_ASSIGN_OR_RETURN(local, std::move(in));
  *out = local;
  return Status::Ok();
}

TEST(StatusMacrosTest, AssignOrReturnAssignsToExistingVariable) {
  std::string out;
  EXPECT_TRUE(AssignToExisting(std::string("new"), &out).ok());
  EXPECT_EQ(out, "new");
  out = "before";
  EXPECT_FALSE(AssignToExisting(Internal("x"), &out).ok());
  EXPECT_EQ(out, "before");
}

}  // namespace
}  // namespace sitechain
