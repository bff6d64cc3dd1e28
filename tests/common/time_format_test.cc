#include "common/time_format.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace sitechain {
namespace {

TimePoint Unix(int64_t seconds) { return TimePoint(Seconds(seconds)); }

int64_t UnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
}

// --- FormatTime ---

TEST(FormatTimeTest, KnownInstants) {
  EXPECT_EQ(FormatTime(Unix(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(Unix(1700000000)), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatTime(Unix(951782400)), "2000-02-29T00:00:00Z");
  EXPECT_EQ(FormatTime(Unix(2147483648)), "2038-01-19T03:14:08Z");  // past 32-bit time_t
  EXPECT_EQ(FormatTime(Unix(-1)), "1969-12-31T23:59:59Z");
}

TEST(FormatTimeTest, DropsFractionsOfASecond) {
  EXPECT_EQ(FormatTime(Unix(1700000000) + std::chrono::milliseconds(999)), "2023-11-14T22:13:20Z");
}

// --- ParseTime ---

TEST(ParseTimeTest, ParsesRfc3339Utc) {
  Result<TimePoint> t = ParseTime("2023-11-14T22:13:20Z");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(UnixSeconds(*t), 1700000000);

  t = ParseTime("2024-02-29T12:00:00Z");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(UnixSeconds(*t), 1709208000);
}

TEST(ParseTimeTest, ParsesUnixSeconds) {
  Result<TimePoint> t = ParseTime("1700000000");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, Unix(1700000000));
  t = ParseTime("0");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, Unix(0));
}

TEST(ParseTimeTest, RoundTripsWithFormatTime) {
  for (int64_t s : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{951782400}, int64_t{1700000000},
                    int64_t{1709208000}, int64_t{2147483648}, int64_t{-2208988800} /* 1900-01-01 */,
                    int64_t{4102444800} /* 2100 */}) {
    const std::string text = FormatTime(Unix(s));
    Result<TimePoint> back = ParseTime(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().ToString();
    EXPECT_EQ(UnixSeconds(*back), s) << text;
    EXPECT_EQ(FormatTime(*back), text);
  }
}

TEST(ParseTimeTest, RefusesMalformedText) {
  for (const char* text :
       {"", "yesterday", "2026-11-22T10:04:05", "2026-11-22T10:04:05+01:00", "2026-11-22 10:04:05Z",
        "2026-11-22T10:04:05Zjunk", "2026-11-22T10:04:05z", "2026-11-22", "12abc", "1700000000s",
        "1.5", "Z"}) {
    Result<TimePoint> t = ParseTime(text);
    EXPECT_FALSE(t.ok()) << "'" << text << "' was accepted as " << FormatTime(*t);
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << text;
    }
  }
}

// A field out of range is a typo, not a time: it must not be normalised into another date.
TEST(ParseTimeTest, RefusesOutOfRangeFields) {
  for (const char* text : {"2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-02-30T00:00:00Z",
                           "2026-04-31T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-22T24:00:00Z",
                           "2026-11-22T10:60:00Z", "2026-11-22T10:04:61Z"}) {
    Result<TimePoint> t = ParseTime(text);
    EXPECT_FALSE(t.ok()) << "'" << text << "' was accepted as " << FormatTime(*t);
  }
}

// Only the layout FormatTime writes is accepted: two digits per field, no signs or spaces.
TEST(ParseTimeTest, RefusesNonCanonicalLayouts) {
  for (const char* text : {"2026-1-2T3:4:5Z", "2026-11-22T 10:04:05Z", " 2026-11-22T10:04:05Z",
                           "2026-+1-22T10:04:05Z", "2026-11-22T10:04:-5Z"}) {
    Result<TimePoint> t = ParseTime(text);
    EXPECT_FALSE(t.ok()) << "'" << text << "' was accepted as " << FormatTime(*t);
  }
}

// Whatever ParseTime accepts it must represent exactly: a time beyond the clock's range must be
// refused, not silently wrapped into another time.
TEST(ParseTimeTest, NeverWrapsTimesBeyondTheClockRange) {
  for (const char* text : {"2300-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    Result<TimePoint> t = ParseTime(text);
    if (t.ok()) {
      EXPECT_EQ(FormatTime(*t), text) << "accepted but wrapped";
    }
  }
  for (const char* text : {"9223372036854775807", "-9223372036854775807", "99999999999"}) {
    Result<TimePoint> t = ParseTime(text);
    if (t.ok()) {
      EXPECT_EQ(std::to_string(UnixSeconds(*t)), text)
          << "accepted but wrapped to " << FormatTime(*t);
    }
  }
}

// --- ParseDuration ---

TEST(ParseDurationTest, Units) {
  struct Case {
    const char* text;
    int64_t seconds;
  };
  for (const Case& c : {Case{"90s", 90}, Case{"15m", 900}, Case{"12h", 43200}, Case{"30d", 2592000},
                        Case{"2y", 2 * 365 * 86400}, Case{"5000", 5000}, Case{"0s", 0},
                        Case{"0", 0}, Case{"1m", 60}, Case{"1h", 3600}, Case{"1d", 86400},
                        Case{"1y", 365 * 86400}, Case{"100y", 100LL * 31536000}}) {
    Result<Seconds> d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().ToString();
    EXPECT_EQ(d->count(), c.seconds) << c.text;
  }
}

TEST(ParseDurationTest, RefusesMalformed) {
  for (const char* text : {"", "s", "m", "-5s", "-5", "+5s", "5x", "5 s", " 5s", "5s ", "1.5h",
                           "5ms", "5ss", "abc", "h5", "5sm", "0x10"}) {
    Result<Seconds> d = ParseDuration(text);
    EXPECT_FALSE(d.ok()) << "'" << text << "' was accepted as " << d->count() << " s";
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << text;
    }
  }
}

TEST(ParseDurationTest, RefusesOverflow) {
  for (const char* text : {"9223372036854775807s", "9223372036854775808", "18446744073709551615",
                           "99999999999999999999999s", "9223372036854775807y", "1000000000000000d",
                           "300000000000y", "200000000000000000m"}) {
    Result<Seconds> d = ParseDuration(text);
    EXPECT_FALSE(d.ok()) << "'" << text << "' was accepted as " << d->count() << " s";
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << text;
    }
  }
}

TEST(ParseDurationTest, ErrorMessageQuotesInput) {
  Result<Seconds> d = ParseDuration("12 parsecs");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("12 parsecs"), std::string::npos) << d.status().message();
}

}  // namespace
}  // namespace sitechain
