// Generator of the synthetic support corpus (see corpus.h and
// docs/demo-data.md): intent templates with slot fillers, openers and closers
// by sentiment, politeness wrappers, seeded typos and casing noise, a little
// label noise between confusable intents, and the stream's off-topic,
// complaint and PII rows (Luhn-valid cards, mod-97-valid IBANs).
//
// Determinism: every random choice comes from Rng::below, which derives
// integers from std::mt19937_64 (fully specified by the standard) by
// rejection, and every draw is its own statement so that no unspecified
// evaluation order can reorder them.
#include "corpus.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <system_error>
#include <unordered_set>

#include "edgeroute/common/error.h"

namespace edgeroute::cli {

namespace {

namespace fs = std::filesystem;

using Words = std::span<const std::string_view>;

// ---------------------------------------------------------------------------
// Randomness

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  // `stream` separates the generator's sections, so that e.g. the stream does
  // not change when --per-intent does.
  Rng(std::uint64_t seed, std::uint64_t stream) : engine_(splitmix64(seed ^ splitmix64(stream))) {}

  // Uniform in [0, n); n > 0.
  std::size_t below(std::size_t n) {
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t limit = kMax - kMax % n;
    for (;;) {
      const std::uint64_t v = engine_();
      if (v < limit) return static_cast<std::size_t>(v % n);
    }
  }
  bool percent(std::size_t p) { return below(100) < p; }
  std::string_view pick(Words words) { return words[below(words.size())]; }
  std::string digits(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('0' + below(10));
    return s;
  }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (std::size_t i = v.size(); i > 1; --i) {
      const std::size_t j = below(i);
      std::swap(v[i - 1], v[j]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

// ---------------------------------------------------------------------------
// Vocabulary

enum class Sentiment { kPositive, kNeutral, kNegative };

std::string sentiment_name(Sentiment s) {
  switch (s) {
    case Sentiment::kPositive:
      return "positive";
    case Sentiment::kNeutral:
      return "neutral";
    case Sentiment::kNegative:
      return "negative";
  }
  return "neutral";
}

constexpr std::string_view kProducts[] = {"laptop",        "phone case",    "coffee machine", "headphones",
                                          "running shoes", "winter jacket", "blender",        "desk lamp",
                                          "smart watch",   "backpack",      "tablet",         "vacuum cleaner",
                                          "gaming mouse",  "yoga mat",      "kettle",         "bluetooth speaker",
                                          "office chair",  "camera",        "printer",        "electric toothbrush",
                                          "monitor",       "air fryer",     "umbrella",       "keyboard"};
constexpr std::string_view kWeekdays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::string_view kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                        "July",    "August",   "September", "October", "November", "December"};
constexpr std::string_view kWhen[] = {"yesterday",  "today",      "last week", "two days ago",     "this morning",
                                      "last month", "a week ago", "on Friday", "over the weekend", "#date"};
constexpr std::string_view kPlans[] = {"Premium", "Basic",  "Family",  "Pro",  "Gold",
                                       "Student", "annual", "monthly", "Plus", "Business"};
constexpr std::string_view kCardBrands[] = {"Visa", "Mastercard", "American Express", "Maestro", "Discover"};
constexpr std::string_view kWhere[] = {"at checkout", "on your website", "in the app", "in your store",
                                       "on the payment page"};
constexpr std::string_view kStreets[] = {"Oak Street", "Maple Avenue", "High Street", "Station Road",
                                         "Elm Drive",  "Park Lane",    "Church Road", "Mill Lane"};
constexpr std::string_view kCities[] = {"Springfield", "Riverton", "Lakeside", "Bristol", "Leeds",
                                        "Austin",      "Denver",   "Portland", "Munich",  "Lyon"};
constexpr std::string_view kCarriers[] = {"UPS", "DHL", "FedEx", "the post office", "Royal Mail", "USPS", "Hermes"};
constexpr std::string_view kNumberWords[] = {"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"};
constexpr std::string_view kCountries[] = {"Australia", "Canada", "Peru", "Norway", "Kenya", "Japan", "Chile"};
constexpr std::string_view kPoemTopics[] = {"cats", "the sea", "autumn", "my dog", "coffee", "the moon"};
constexpr std::string_view kFirstNames[] = {"anna", "ben",   "carla", "david", "emma",  "farid", "grace", "hugo",
                                            "ines", "jonas", "kate",  "liam",  "maria", "noah",  "olga",  "priya"};
constexpr std::string_view kLastNames[] = {"smith",  "garcia", "muller", "rossi",  "kowalski", "nguyen",
                                           "okafor", "larsen", "dubois", "tanaka", "silva",    "brown"};
constexpr std::string_view kEmailDomains[] = {"example.com", "example.org", "example.net", "mail.example.com"};

// Openers and closers by sentiment ("" = none; repeated to make none likely).
constexpr std::string_view kOpenNeutral[] = {"",
                                             "",
                                             "",
                                             "",
                                             "Hi,",
                                             "Hello,",
                                             "Hi there,",
                                             "Good morning,",
                                             "Hey,",
                                             "Quick question:",
                                             "Hello team,",
                                             "Dear support,",
                                             "Good afternoon."};
constexpr std::string_view kOpenPositive[] = {"Hi! Hope you're having a great day.",
                                              "Hello, I love your shop!",
                                              "Hi there :)",
                                              "Good morning! Big fan of your service.",
                                              "Hey, thanks for always being so helpful.",
                                              "Hello!"};
constexpr std::string_view kOpenNegative[] = {"This is ridiculous.",
                                              "I'm really frustrated.",
                                              "Seriously?",
                                              "Unbelievable.",
                                              "I am very angry.",
                                              "Not happy at all.",
                                              "This is the third time I'm writing.",
                                              "What a terrible experience.",
                                              "I'm fed up.",
                                              "Honestly, this is a joke.",
                                              ""};
constexpr std::string_view kCloseNeutral[] = {
    "",       "", "", "", "Thanks.", "Thank you.", "Regards.", "Please advise.", "Thanks in advance.", "Can you help?",
    "Cheers."};
constexpr std::string_view kClosePositive[] = {"Thanks so much!",
                                               "You guys are great!",
                                               "Much appreciated, have a lovely day!",
                                               "Thank you, really appreciate it!",
                                               "Keep up the good work :)",
                                               ""};
constexpr std::string_view kCloseNegative[] = {
    "Fix this now!", "I expect an answer today.", "Worst service ever.",  "This is unacceptable!",
    "Sort it out!!", "I'm losing my patience.",   "Absolutely terrible.", ""};

// Wrappers around the core request; '%' is the core, '~' the core with its
// first letter lowered (unless it starts with "I ").
constexpr std::string_view kPolite[] = {"%",
                                        "%",
                                        "%",
                                        "%",
                                        "Could you help me? %",
                                        "Please help, ~",
                                        "Sorry to bother you, but ~",
                                        "I hope you can help. %",
                                        "%  Thanks a lot."};
constexpr std::string_view kRude[] = {"%", "%", "% Now!", "Listen, ~", "%!!", "Again: ~"};

// Optional context sentences (multi-sentence texts).
constexpr std::string_view kContextAny[] = {"I've been a customer since {year}.", "I'm using the app on my phone.",
                                            "I already checked the FAQ.", "My name is {First}."};
constexpr std::string_view kContextOrder[] = {"My order number is {order}.", "I ordered it on {date}.",
                                              "It was {a_product} for {amount}.", "I paid with my {card_brand}."};

struct IntentSpec {
  std::string_view name;
  bool order_context;  // kContextOrder sentences fit
  std::vector<std::string_view> templates;
};

const std::vector<IntentSpec>& intent_specs() {
  static const std::vector<IntentSpec> specs = {
      {"card_declined",
       false,
       {"My card was declined when I tried to buy {a_product}.", "Why does my card keep getting declined?",
        "I tried to pay {amount} {where} and the card was refused.",
        "Payment failed {where} with my card ending in {last4}.",
        "The card ending {last4} is declined every time I try to order.",
        "my {card_brand} card got rejected {where} {when}",
        "Checkout says \"card declined\" but I have money in the account.",
        "I can't complete my purchase, the transaction was declined {when}.",
        "Your system declined my {card_brand} for a {amount} order.",
        "Is there a problem with my card? It was declined for {a_product}.",
        "Every payment I try gets declined, even for {amount}.", "Why was my payment of {amount} rejected?"}},
      {"refund_request",
       true,
       {"I would like a refund for {a_product}.", "Can I get my money back for order {order}?",
        "I returned {the_product} {when} and still haven't received my refund.",
        "Please refund the {amount} I paid for {the_product}.", "How do I request a refund for {the_product}?",
        "I want to return {the_product} and get a full refund.",
        "I was charged {amount} for {the_product} but I cancelled the order, I want a refund.",
        "Where is my refund for order {order}?", "The {product} doesn't work, I'd like my money back.",
        "Refund please, order {order}.", "When will the {amount} refund reach my account?"}},
      {"order_status",
       true,
       {"Where is my order {order}?", "What is the status of order {order}?",
        "I ordered {a_product} {when} and it hasn't arrived yet.",
        "Can you tell me when my {product} will be delivered?", "Has order {order} shipped yet?",
        "My tracking for {order} hasn't updated since {date}.", "When will {the_product} arrive?",
        "Is my package with {carrier} still on its way?", "Any update on my delivery? Order number {order}.",
        "How long does shipping take for order {order}?",
        "The tracking page says {carrier} has my parcel, where is it?"}},
      {"cancel_subscription",
       false,
       {"I want to cancel my {plan} subscription.", "Please stop my {plan} membership from renewing.",
        "How do I cancel my subscription before {date}?", "Cancel my {plan} plan, I no longer need it.",
        "I don't want to be billed for the {plan} plan anymore, please cancel it.",
        "Can you turn off auto-renewal on my {plan} subscription?", "I'd like to unsubscribe from the {plan} plan.",
        "Stop my monthly subscription please.", "How can I end my {plan} trial so I'm not charged?",
        "I want to end my {plan} membership at the end of this month."}},
      {"change_address",
       true,
       {"I need to change my delivery address to {address}.", "I moved, please update my address to {address}.",
        "Can I change the shipping address on order {order}?", "Please send order {order} to {address} instead.",
        "My address has changed, the new one is {address}.", "How do I update my billing address?",
        "Wrong address on my account, it should be {address}.",
        "Can you redirect my parcel to my work address in {city}?",
        "I typed the wrong street for order {order}, it's {address}."}},
      {"password_reset",
       false,
       {"I forgot my password.", "How do I reset my password?",
        "I can't log in to my account, the password doesn't work.", "The password reset email never arrived.",
        "I'm locked out of my account after too many login attempts.",
        "Please help me reset my password, I have tried {n} times.", "The reset link says it has expired.",
        "I can't sign in since {when}, it says my password is wrong.", "How can I change my login password?",
        "The app keeps saying invalid password even after I reset it {when}."}},
      {"billing_dispute",
       true,
       {"I was charged twice for {the_product}.",
        "There is a charge of {amount} on my statement that I don't recognise.", "Why was I billed {amount} on {date}?",
        "You charged me {amount} but the price was {amount}.", "I dispute the {amount} charge from {date}.",
        "My invoice shows {amount} extra that I never agreed to.",
        "I was billed for the {plan} plan after I cancelled.", "There's a double charge on my card ending {last4}.",
        "The amount on my bill is wrong, I was overcharged by {amount}.",
        "I see an unknown payment of {amount} to your company {when}.",
        "I was charged {amount} for {the_product} and I want the extra charge reversed."}},
      {"delivery_damaged",
       true,
       {"My {product} arrived damaged.", "The box was crushed and {the_product} inside is broken.",
        "I received {a_product} with a cracked screen.", "Order {order} came in pieces.",
        "The {product} I got {when} is damaged, what should I do?",
        "The package was wet and {the_product} doesn't work.", "Part of my order {order} arrived broken.",
        "Your courier dropped my parcel, the {product} is dented.", "Everything in the parcel was smashed.",
        "{carrier} delivered {the_product} scratched and bent."}},
      {"payment_method_update",
       false,
       {"I need to update my card details.", "How do I add a new payment method?",
        "My card expired, can I change it to a new one?",
        "Please replace the card ending {last4} with my new {card_brand}.",
        "I want to pay with PayPal instead of my card.", "Can I switch my payment method to bank transfer?",
        "How do I remove my old card ending {last4} from my account?",
        "I got a new card from my bank, where do I update it?",
        "Set my {card_brand} as the default payment method please.",
        "My {card_brand} was replaced, the old one will be declined from now on."}},
      {"account_closure",
       false,
       {"Please close my account.", "I want to delete my account and all my data.",
        "How do I permanently delete my profile?", "Close my account, I won't be using your service anymore.",
        "I'd like to deactivate my account.", "Remove my account and personal information from your systems.",
        "Can you shut down my account registered to this email?",
        "I want to leave, delete everything you have about me.",
        "Cancel my account entirely, not just the {plan} plan."}},
      {"greeting", false, {}},
      {"thanks", false, {}},
  };
  return specs;
}

constexpr std::string_view kGreetWords[] = {"Hi",           "Hello",   "Hey",        "Good morning", "Good afternoon",
                                            "Good evening", "Hiya",    "Greetings",  "Howdy",        "Morning",
                                            "Hi hi",        "Evening", "Hello hello"};
constexpr std::string_view kGreetWho[] = {"",          " team", " support", " there",
                                          " everyone", " guys", " folks",   " support team"};
constexpr std::string_view kGreetTail[] = {"",
                                           "!",
                                           ".",
                                           " :)",
                                           ", anyone there?",
                                           ", is anybody available?",
                                           ", can I ask a quick question?",
                                           ", how are you today?",
                                           ", hope you're doing well.",
                                           "! Is this the right place to ask something?",
                                           ", I'm new here."};
constexpr std::string_view kThankWords[] = {
    "Thanks",           "Thank you",        "Thanks a lot",  "Many thanks",        "Thank you so much", "Cheers",
    "Thanks a million", "Much appreciated", "Great, thanks", "Perfect, thank you", "Awesome, thanks"};
constexpr std::string_view kThankFor[] = {"",
                                          " for your help",
                                          " for the quick reply",
                                          " for sorting out my refund",
                                          " for fixing my password",
                                          " for the fast delivery",
                                          " for resolving this",
                                          " for your patience",
                                          " for the update on my order",
                                          ", that solved it",
                                          ", it works now",
                                          ", problem solved"};
constexpr std::string_view kThankTail[] = {
    "", "!", ".", " :)", "! Have a nice day.", ", you're the best.", ". That's all I needed.", "! Great service."};

constexpr std::string_view kOffTopic[] = {"What's the weather like in {city} today?",
                                          "Can you recommend a good movie for tonight?",
                                          "Who won the football game last night?",
                                          "Tell me a joke.",
                                          "What is the capital of {country}?",
                                          "Do you like pizza?",
                                          "Are you a robot?",
                                          "What time is it in {city}?",
                                          "How do I make pancakes?",
                                          "What's your favourite colour?",
                                          "Can you help me with my maths homework?",
                                          "Is it going to rain on {weekday}?",
                                          "Write me a poem about {poem}.",
                                          "how tall is the eiffel tower",
                                          "lol",
                                          "test test 123",
                                          "What's the meaning of life?",
                                          "Which is better, cats or dogs?",
                                          "My neighbour's dog barks all night, any tips?",
                                          "Translate 'good night' into French."};

constexpr std::string_view kComplaint[] = {"I have been a loyal customer for {n} years.",
                                           "Nobody has answered my emails for {n} days.",
                                           "Your chat bot is useless.",
                                           "I have called {n} times and got cut off every time.",
                                           "I will be telling everyone I know about this.",
                                           "I am going to report you to consumer protection.",
                                           "If this isn't fixed by {weekday} I'm taking my business elsewhere.",
                                           "I demand compensation for the time I have wasted.",
                                           "Every agent tells me something different.",
                                           "I have screenshots of everything.",
                                           "This has ruined my whole week."};
constexpr std::string_view kManager[] = {"I want to speak to a manager immediately.",
                                         "Get me your supervisor.",
                                         "Escalate this to someone who can actually help.",
                                         "Put me through to a manager NOW.",
                                         "I demand to talk to someone senior.",
                                         "I want this escalated to management today."};

// Label noise: a few texts of one intent carry its confusable partner's label.
std::string_view confusable(std::string_view intent) {
  if (intent == "refund_request") return "billing_dispute";
  if (intent == "billing_dispute") return "refund_request";
  if (intent == "card_declined") return "payment_method_update";
  if (intent == "payment_method_update") return "card_declined";
  if (intent == "cancel_subscription") return "account_closure";
  if (intent == "account_closure") return "cancel_subscription";
  return {};
}

// Keys next to each lower-case letter on a QWERTY keyboard.
std::string_view qwerty_neighbours(char c) {
  static constexpr std::array<std::string_view, 26> kNear = {
      "qwsz", "vghn", "xdfv", "serfcx", "wrsd", "drtgvc", "ftyhbv", "gyujnb", "uojk", "huikmn", "jiolm", "kop",  "njk",
      "bhjm", "ipkl", "ol",   "wa",     "etdf", "awedxz", "ryfg",   "yihj",   "cfgb", "qeas",   "zsdc",  "tugh", "asx"};
  return (c >= 'a' && c <= 'z') ? kNear[static_cast<std::size_t>(c - 'a')] : std::string_view{};
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// Lower-cased letters and digits only: two texts with the same key count as
// the same text for de-duplication across splits.
std::string text_key(std::string_view s) {
  std::string k;
  for (const char c : s) {
    if (is_alpha(c) || (c >= '0' && c <= '9')) k += lower(c);
  }
  return k;
}

// ---------------------------------------------------------------------------
// Text assembly

class Writer {
 public:
  explicit Writer(Rng& rng) : rng_(rng) {}

  // Replaces each {slot} of `tmpl` with a fresh value, left to right.
  std::string fill(std::string_view tmpl) {
    std::string out;
    std::size_t i = 0;
    while (i < tmpl.size()) {
      const std::size_t open = tmpl.find('{', i);
      if (open == std::string_view::npos) {
        out.append(tmpl.substr(i));
        break;
      }
      const std::size_t close = tmpl.find('}', open);
      out.append(tmpl.substr(i, open - i));
      out += slot(tmpl.substr(open + 1, close - open - 1));
      i = close + 1;
    }
    return out;
  }

  std::string amount() {
    const std::size_t style = rng_.below(4);
    const std::size_t whole = 5 + rng_.below(995);
    const bool cents = rng_.percent(50);
    std::string value = std::to_string(whole);
    if (cents) {
      value += '.';
      value += rng_.digits(1);
      value += '9';
    }
    switch (style) {
      case 0:
        return "$" + value;
      case 1:
        return "\xE2\x82\xAC" + value;  // the euro sign
      case 2:
        return "\xC2\xA3" + value;  // the pound sign
      default:
        return value + " EUR";
    }
  }

  std::string date() {
    const std::size_t style = rng_.below(3);
    const std::size_t day = 1 + rng_.below(28);
    const std::size_t month = rng_.below(12);
    if (style == 0) return std::string(kMonths[month]) + " " + std::to_string(day);
    if (style == 1) return std::to_string(day) + "/" + std::to_string(month + 1);
    return "last " + std::string(rng_.pick(kWeekdays));
  }

  std::string order() {
    const std::size_t style = rng_.below(3);
    if (style == 0) return "#" + rng_.digits(6);
    if (style == 1) return "ORD-" + rng_.digits(7);
    return rng_.digits(8);
  }

  std::string slot(std::string_view name) {
    if (name == "product") return std::string(rng_.pick(kProducts));
    if (name == "a_product") {
      const std::string p(rng_.pick(kProducts));
      const bool vowel = std::string_view("aeiou").find(p[0]) != std::string_view::npos;
      return (vowel ? "an " : "a ") + p;
    }
    if (name == "the_product") {
      const bool mine = rng_.percent(50);
      return (mine ? "my " : "the ") + std::string(rng_.pick(kProducts));
    }
    if (name == "amount") return amount();
    if (name == "date") return date();
    if (name == "when") {
      const std::string_view w = rng_.pick(kWhen);
      return w == "#date" ? "on " + date() : std::string(w);
    }
    if (name == "order") return order();
    if (name == "plan") return std::string(rng_.pick(kPlans));
    if (name == "last4") return rng_.digits(4);
    if (name == "card_brand") return std::string(rng_.pick(kCardBrands));
    if (name == "where") return std::string(rng_.pick(kWhere));
    if (name == "city") return std::string(rng_.pick(kCities));
    if (name == "address") {
      const std::size_t number = 1 + rng_.below(250);
      const std::string street(rng_.pick(kStreets));
      const std::string city(rng_.pick(kCities));
      return std::to_string(number) + " " + street + ", " + city;
    }
    if (name == "carrier") return std::string(rng_.pick(kCarriers));
    if (name == "n") {
      const bool word = rng_.percent(50);
      if (word) return std::string(rng_.pick(kNumberWords));
      return std::to_string(2 + rng_.below(9));
    }
    if (name == "year") return std::to_string(2008 + rng_.below(16));
    if (name == "weekday") return std::string(rng_.pick(kWeekdays));
    if (name == "country") return std::string(rng_.pick(kCountries));
    if (name == "poem") return std::string(rng_.pick(kPoemTopics));
    if (name == "First") {
      std::string f(rng_.pick(kFirstNames));
      f[0] = upper(f[0]);
      return f;
    }
    return "{" + std::string(name) + "}";  // unreachable with the tables above
  }

  // One labeled-style text of `spec` with the given sentiment; `multi` allows
  // a context sentence.
  std::string intent_text(const IntentSpec& spec, Sentiment s) {
    if (spec.name == "greeting") return greeting(s);
    if (spec.name == "thanks") return thanks();
    std::vector<std::string> parts;
    const std::string_view opener = s == Sentiment::kNegative   ? rng_.pick(kOpenNegative)
                                    : s == Sentiment::kPositive ? rng_.pick(kOpenPositive)
                                                                : rng_.pick(kOpenNeutral);
    if (!opener.empty()) parts.emplace_back(opener);
    const bool context = rng_.percent(20);
    std::string context_sentence;
    if (context) {
      const bool order_context = spec.order_context && rng_.percent(70);
      context_sentence = fill(order_context ? rng_.pick(kContextOrder) : rng_.pick(kContextAny));
    }
    const bool context_first = rng_.percent(60);
    if (context && context_first) parts.push_back(context_sentence);
    const std::string core = fill(spec.templates[rng_.below(spec.templates.size())]);
    const std::string_view wrapper = s == Sentiment::kNegative ? rng_.pick(kRude) : rng_.pick(kPolite);
    parts.push_back(wrap(wrapper, core));
    if (context && !context_first) parts.push_back(context_sentence);
    const std::string_view closer = s == Sentiment::kNegative   ? rng_.pick(kCloseNegative)
                                    : s == Sentiment::kPositive ? rng_.pick(kClosePositive)
                                                                : rng_.pick(kCloseNeutral);
    if (!closer.empty()) parts.emplace_back(closer);
    if (parts.size() >= 2 && parts[0].back() == ',') parts[1] = lower_first(parts[1]);
    std::string text;
    for (const std::string& p : parts) text += (text.empty() ? "" : " ") + p;
    return text;
  }

  std::string greeting(Sentiment s) {
    std::string text(rng_.pick(kGreetWords));
    text += rng_.pick(kGreetWho);
    text += rng_.pick(kGreetTail);
    if (s == Sentiment::kPositive) {
      const bool extra = rng_.percent(50);
      if (extra) text += " Lovely to chat with you!";
    }
    return text;
  }

  std::string thanks() {
    std::string text(rng_.pick(kThankWords));
    text += rng_.pick(kThankFor);
    text += rng_.pick(kThankTail);
    return text;
  }

  std::string off_topic() {
    const std::string_view opener = rng_.pick(kOpenNeutral);
    const std::string question = fill(rng_.pick(kOffTopic));
    if (opener.empty()) return question;
    return std::string(opener) + " " + (opener.back() == ',' ? lower_first(question) : question);
  }

  // A long angry multi-sentence complaint about `spec` that demands a manager.
  std::string complaint(const IntentSpec& spec) {
    std::string text(rng_.pick(kOpenNegative));
    const std::string core = fill(spec.templates[rng_.below(spec.templates.size())]);
    text += (text.empty() ? "" : " ") + core;
    const std::size_t extra = 2 + rng_.below(3);
    std::size_t prev = kComplaintCount;
    for (std::size_t i = 0; i < extra; ++i) {
      std::size_t k = rng_.below(kComplaintCount);
      if (k == prev) k = (k + 1) % kComplaintCount;
      prev = k;
      text += " " + fill(kComplaint[k]);
    }
    const bool manager_first = rng_.percent(30);
    const std::string manager(rng_.pick(kManager));
    if (manager_first) return manager + " " + text;
    text += " " + manager;
    const bool close = rng_.percent(60);
    if (close) text += " " + std::string(rng_.pick(kCloseNegative));
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  }

  // Typos (~10%) and casing noise; digits and words with digits are left alone.
  std::string noise(std::string text, Sentiment s) {
    const bool typo = rng_.percent(10);
    if (typo) {
      const std::size_t count = 1 + rng_.below(2);
      for (std::size_t i = 0; i < count; ++i) add_typo(text);
    }
    const std::size_t casing = rng_.below(100);
    const std::size_t shout = s == Sentiment::kNegative ? 10 : 1;
    if (casing < 7) {
      for (char& c : text) c = lower(c);
    } else if (casing < 7 + shout) {
      for (char& c : text) c = upper(c);
    } else if (casing < 12 + shout && !text.empty()) {
      text[0] = lower(text[0]);
    }
    return text;
  }

 private:
  static constexpr std::size_t kComplaintCount = std::size(kComplaint);

  // The text with its first letter lowered, unless it starts with "I " or "I'".
  static std::string lower_first(std::string text) {
    if (!text.empty() && !(text.size() >= 2 && text[0] == 'I' && (text[1] == ' ' || text[1] == '\''))) {
      text[0] = lower(text[0]);
    }
    return text;
  }

  static std::string wrap(std::string_view wrapper, const std::string& core) {
    const std::string lowered = lower_first(core);
    std::string out;
    for (const char c : wrapper) {
      if (c == '%') {
        out += core;
      } else if (c == '~') {
        out += lowered;
      } else {
        out += c;
      }
    }
    // "%  Thanks" keeps two spaces on purpose (sloppy typing); "%!!" after a
    // final '.' or '?' replaces it.
    const std::size_t bang = out.find(".!!");
    if (bang != std::string::npos) out.erase(bang, 1);
    return out;
  }

  void add_typo(std::string& text) {
    // Candidate words: runs of 4+ ASCII letters bounded by spaces/punctuation.
    std::vector<std::pair<std::size_t, std::size_t>> words;
    std::size_t i = 0;
    while (i < text.size()) {
      if (!is_alpha(text[i])) {
        ++i;
        continue;
      }
      const std::size_t start = i;
      while (i < text.size() && is_alpha(text[i])) ++i;
      const bool bounded = i == text.size() || !(text[i] >= '0' && text[i] <= '9');
      const bool clean_start = start == 0 || !(text[start - 1] >= '0' && text[start - 1] <= '9');
      if (i - start >= 4 && bounded && clean_start) words.emplace_back(start, i - start);
    }
    if (words.empty()) return;
    const auto [start, len] = words[rng_.below(words.size())];
    const std::size_t pos = start + 1 + rng_.below(len - 1);
    const std::size_t op = rng_.below(4);
    if (op == 0) {
      const std::string_view near = qwerty_neighbours(lower(text[pos]));
      if (near.empty()) return;
      const char c = near[rng_.below(near.size())];
      text[pos] = (text[pos] >= 'A' && text[pos] <= 'Z') ? upper(c) : c;
    } else if (op == 1) {
      text.erase(pos, 1);
    } else if (op == 2) {
      text.insert(pos, 1, text[pos]);
    } else if (pos + 1 < start + len) {
      std::swap(text[pos], text[pos + 1]);
    } else {
      std::swap(text[pos - 1], text[pos]);
    }
  }

  Rng& rng_;
};

Sentiment draw_sentiment(Rng& rng, std::string_view intent) {
  const std::size_t r = rng.below(100);
  if (intent == "thanks") return r < 85 ? Sentiment::kPositive : Sentiment::kNeutral;
  if (intent == "greeting") return r < 30 ? Sentiment::kPositive : Sentiment::kNeutral;
  if (r < 35) return Sentiment::kNegative;
  if (r < 80) return Sentiment::kNeutral;
  return Sentiment::kPositive;
}

// ---------------------------------------------------------------------------
// Personal data

std::string group(std::string_view s, std::span<const std::size_t> sizes, char sep) {
  std::string out;
  std::size_t at = 0;
  for (const std::size_t n : sizes) {
    if (at >= s.size()) break;
    if (!out.empty()) out += sep;
    out.append(s.substr(at, n));
    at += n;
  }
  return out;
}

std::string card_number(Rng& rng) {
  static constexpr std::string_view kPrefixes[] = {"4", "4", "51", "52", "53", "54", "55", "34", "37", "6011"};
  const std::string_view prefix = rng.pick(kPrefixes);
  const bool amex = prefix == "34" || prefix == "37";
  const std::size_t length = amex ? 15 : 16;
  std::string digits(prefix);
  digits += rng.digits(length - 1 - digits.size());
  digits += static_cast<char>('0' + luhn_check_digit(digits));
  const std::size_t style = rng.below(10);
  if (style < 3) return digits;
  const char sep = style < 8 ? ' ' : '-';
  static constexpr std::size_t kAmex[] = {4, 6, 5};
  static constexpr std::size_t kFours[] = {4, 4, 4, 4};
  return amex ? group(digits, kAmex, sep) : group(digits, kFours, sep);
}

std::string iban(Rng& rng) {
  const std::size_t country = rng.below(5);
  std::string cc;
  std::string bban;
  auto letters = [&rng](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('A' + rng.below(26));
    return s;
  };
  switch (country) {
    case 0:
      cc = "DE";
      bban = rng.digits(18);
      break;
    case 1:
      cc = "GB";
      bban = letters(4);
      bban += rng.digits(14);
      break;
    case 2:
      cc = "NL";
      bban = letters(4);
      bban += rng.digits(10);
      break;
    case 3:
      cc = "FR";
      bban = rng.digits(23);
      break;
    default:
      cc = "ES";
      bban = rng.digits(20);
      break;
  }
  const std::string compact = cc + iban_check_digits(cc, bban) + bban;
  const bool spaced = rng.percent(60);
  if (!spaced) return compact;
  std::string out;
  for (std::size_t i = 0; i < compact.size(); i += 4) {
    if (!out.empty()) out += ' ';
    out += compact.substr(i, 4);
  }
  return out;
}

std::string email(Rng& rng) {
  const std::string first(rng.pick(kFirstNames));
  const std::string last(rng.pick(kLastNames));
  const std::size_t style = rng.below(3);
  std::string local;
  if (style == 0) {
    local = first + "." + last;
  } else if (style == 1) {
    local = first + last + std::to_string(1 + rng.below(99));
  } else {
    local = first + "_" + std::to_string(1950 + rng.below(60));
  }
  return local + "@" + std::string(rng.pick(kEmailDomains));
}

std::string account_number(Rng& rng) {
  const bool prefixed = rng.percent(50);
  return prefixed ? "ACC-" + rng.digits(8) : rng.digits(10);
}

std::string phone(Rng& rng) {
  const bool uk = rng.percent(50);
  // Ranges reserved for fiction: Ofcom's 020 7946 0xxx and the US 555-01xx.
  if (uk) return "+44 20 7946 0" + rng.digits(3);
  return "+1 " + std::to_string(200 + rng.below(800)) + "-555-01" + rng.digits(2);
}

struct PiiKind {
  std::string_view type;
  std::vector<std::string_view> sentences;  // '@' is the value
  std::vector<std::string_view> intents;    // intents it is plausible with
};

const std::vector<PiiKind>& pii_kinds() {
  static const std::vector<PiiKind> kinds = {
      {"card",
       {"My card number is @.", "The full card number is @.", "Card: @", "I used card @ for this.",
        "Please charge it to @ instead."},
       {"card_declined", "payment_method_update", "billing_dispute", "refund_request"}},
      {"iban",
       {"My IBAN is @.", "Please send the money to IBAN @.", "Bank account (IBAN): @", "Refund to @ please."},
       {"refund_request", "payment_method_update", "billing_dispute", "account_closure"}},
      {"email",
       {"You can reach me at @.", "My email is @.", "Send the confirmation to @ please.", "Registered email: @"},
       {"password_reset", "account_closure", "order_status", "change_address", "cancel_subscription"}},
      {"account",
       {"My account number is @.", "Account no. @", "Customer account @.", "Reference: account @."},
       {"billing_dispute", "cancel_subscription", "account_closure", "refund_request", "order_status"}},
      {"phone",
       {"Call me on @.", "My phone number is @.", "You can text me at @."},
       {"change_address", "delivery_damaged", "order_status", "password_reset"}},
  };
  return kinds;
}

std::string pii_value(Rng& rng, std::string_view type) {
  if (type == "card") return card_number(rng);
  if (type == "iban") return iban(rng);
  if (type == "email") return email(rng);
  if (type == "account") return account_number(rng);
  return phone(rng);
}

const IntentSpec& spec_named(std::string_view name) {
  for (const IntentSpec& s : intent_specs()) {
    if (s.name == name) return s;
  }
  throw Error("corpus: no intent named '" + std::string(name) + "'");  // programmer error; tables are fixed
}

// Intents that have request templates (not greeting/thanks).
std::vector<const IntentSpec*> request_specs() {
  std::vector<const IntentSpec*> out;
  for (const IntentSpec& s : intent_specs()) {
    if (!s.templates.empty()) out.push_back(&s);
  }
  return out;
}

// Stratified 70/15/15 split on corpus.labels; a label with fewer than 3 rows
// goes to train only. Each split is shuffled.
void stratified_split(std::vector<CorpusRow> rows, Rng& rng, Corpus& corpus) {
  for (const std::string& label : corpus.labels) {
    std::vector<CorpusRow> group_rows;
    for (CorpusRow& r : rows) {
      if (r.label == label) group_rows.push_back(std::move(r));
    }
    rng.shuffle(group_rows);
    const std::size_t n = group_rows.size();
    const std::size_t n_val = n < 3 ? 0 : std::max<std::size_t>(1, (n * 15 + 50) / 100);
    const std::size_t n_test = n_val;
    for (std::size_t i = 0; i < n; ++i) {
      auto& dest = i < n_val ? corpus.val : i < n_val + n_test ? corpus.test : corpus.train;
      dest.push_back(std::move(group_rows[i]));
    }
  }
  rng.shuffle(corpus.train);
  rng.shuffle(corpus.val);
  rng.shuffle(corpus.test);
}

// ---------------------------------------------------------------------------
// Files

void write_file(const fs::path& path, const std::string& contents) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(tmp.string() + ": cannot open for writing");
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) throw Error(tmp.string() + ": write failed");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Error(path.string() + ": cannot rename " + tmp.string() + " into place: " + ec.message());
}

}  // namespace

const std::vector<std::string>& corpus_intents() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const IntentSpec& s : intent_specs()) v.emplace_back(s.name);
    return v;
  }();
  return names;
}

int luhn_check_digit(std::string_view payload_digits) {
  int sum = 0;
  bool twice = true;  // the payload's last digit is doubled once the check digit follows it
  for (auto it = payload_digits.rbegin(); it != payload_digits.rend(); ++it) {
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return (10 - sum % 10) % 10;
}

std::string iban_check_digits(std::string_view country, std::string_view bban) {
  // ISO 13616: move the country code and "00" to the end, letters become
  // 10..35, and the check digits are 98 - (number mod 97).
  std::string rearranged(bban);
  rearranged += country;
  rearranged += "00";
  unsigned remainder = 0;
  for (const char c : rearranged) {
    if (c >= '0' && c <= '9') {
      remainder = (remainder * 10 + static_cast<unsigned>(c - '0')) % 97;
    } else {
      const unsigned v = static_cast<unsigned>(upper(c) - 'A') + 10;
      remainder = (remainder * 100 + v) % 97;
    }
  }
  const unsigned check = 98 - remainder;
  std::string out;
  out += static_cast<char>('0' + check / 10);
  out += static_cast<char>('0' + check % 10);
  return out;
}

Corpus generate_corpus(const CorpusOptions& options) {
  if (options.per_intent < 10) {
    throw Error("corpus: --per-intent " + std::to_string(options.per_intent) +
                " is too small; each split needs every intent (at least 10)");
  }
  const std::vector<IntentSpec>& specs = intent_specs();
  std::unordered_set<std::string> seen;  // keys of every labeled and unlabeled text

  // Labeled rows, intent by intent.
  Rng rng(options.seed, 1);
  Writer w(rng);
  std::vector<CorpusRow> labeled;
  for (const IntentSpec& spec : specs) {
    std::size_t made = 0;
    const std::size_t max_attempts = options.per_intent * 100;
    for (std::size_t attempt = 0; made < options.per_intent && attempt < max_attempts; ++attempt) {
      const Sentiment s = draw_sentiment(rng, spec.name);
      std::string text = w.intent_text(spec, s);
      text = w.noise(std::move(text), s);
      if (!seen.insert(text_key(text)).second) continue;
      std::string label(spec.name);
      const std::string_view partner = confusable(spec.name);
      const bool flip = !partner.empty() && rng.percent(3);
      if (flip) label = std::string(partner);
      labeled.push_back({std::move(text), std::move(label), sentiment_name(s)});
      ++made;
    }
    if (made < options.per_intent) {
      throw Error("corpus: the templates give only " + std::to_string(made) + " distinct texts for intent '" +
                  std::string(spec.name) + "', fewer than --per-intent " + std::to_string(options.per_intent));
    }
  }

  Corpus corpus;
  corpus.labels = corpus_intents();
  Rng split_rng(options.seed, 2);
  stratified_split(std::move(labeled), split_rng, corpus);

  // Unlabeled: the train texts, then new in-domain, off-topic and complaint
  // texts that are in no split.
  Rng un_rng(options.seed, 3);
  Writer uw(un_rng);
  for (const CorpusRow& r : corpus.train) corpus.unlabeled.push_back(r.text);
  const std::size_t extra_target = options.per_intent * specs.size() / 2;
  const std::vector<const IntentSpec*> requests = request_specs();
  for (std::size_t attempt = 0; corpus.unlabeled_extra < extra_target && attempt < extra_target * 20; ++attempt) {
    const std::size_t kind = un_rng.below(10);
    std::string text;
    Sentiment s = Sentiment::kNeutral;
    if (kind == 0) {
      text = uw.off_topic();
    } else if (kind == 1) {
      s = Sentiment::kNegative;
      text = uw.complaint(*requests[un_rng.below(requests.size())]);
    } else {
      const IntentSpec& spec = specs[un_rng.below(specs.size())];
      s = draw_sentiment(un_rng, spec.name);
      text = uw.intent_text(spec, s);
    }
    text = uw.noise(std::move(text), s);
    if (!seen.insert(text_key(text)).second) continue;
    corpus.unlabeled.push_back(std::move(text));
    ++corpus.unlabeled_extra;
  }

  // The stream: mostly in-domain, some chit-chat, complaints and PII.
  Rng st_rng(options.seed, 4);
  Writer sw(st_rng);
  for (std::size_t i = 0; i < options.stream_rows; ++i) {
    StreamRow row;
    const std::size_t r = st_rng.below(100);
    if (r < 68) {
      row.kind = "in_domain";
      for (std::size_t attempt = 0; attempt < 50; ++attempt) {
        const IntentSpec& spec = specs[st_rng.below(specs.size())];
        const Sentiment s = draw_sentiment(st_rng, spec.name);
        std::string text = sw.intent_text(spec, s);
        text = sw.noise(std::move(text), s);
        row.text = std::move(text);
        row.label = std::string(spec.name);
        row.sentiment = sentiment_name(s);
        if (!seen.contains(text_key(row.text))) break;
      }
    } else if (r < 78) {
      row.kind = "off_topic";
      std::string text = sw.off_topic();
      row.text = sw.noise(std::move(text), Sentiment::kNeutral);
      row.sentiment = "neutral";
    } else if (r < 88) {
      row.kind = "complaint";
      const IntentSpec& spec = *requests[st_rng.below(requests.size())];
      std::string text = sw.complaint(spec);
      row.text = sw.noise(std::move(text), Sentiment::kNegative);
      row.label = std::string(spec.name);
      row.sentiment = "negative";
      const bool with_account = st_rng.percent(25);
      if (with_account) {
        const std::string value = account_number(st_rng);
        row.text += " My account number is " + value + ".";
        row.pii.emplace_back("account");
        row.pii_values.push_back(value);
      }
    } else {
      row.kind = "pii";
      const std::vector<PiiKind>& kinds = pii_kinds();
      const PiiKind& first = kinds[st_rng.below(kinds.size())];
      const IntentSpec& spec = spec_named(first.intents[st_rng.below(first.intents.size())]);
      const Sentiment s = draw_sentiment(st_rng, spec.name);
      std::string text = sw.intent_text(spec, s);
      row.text = sw.noise(std::move(text), s);
      row.label = std::string(spec.name);
      row.sentiment = sentiment_name(s);
      const bool two = st_rng.percent(30);
      std::vector<const PiiKind*> chosen{&first};
      if (two) {
        const PiiKind* second = &kinds[st_rng.below(kinds.size())];
        if (second != &first) chosen.push_back(second);
      }
      for (const PiiKind* k : chosen) {
        const std::string value = pii_value(st_rng, k->type);
        const std::string_view sentence = k->sentences[st_rng.below(k->sentences.size())];
        std::string filled;
        for (const char c : sentence) {
          if (c == '@') {
            filled += value;
          } else {
            filled += c;
          }
        }
        row.text += " " + filled;
        row.pii.emplace_back(k->type);
        row.pii_values.push_back(value);
      }
    }
    corpus.stream.push_back(std::move(row));
  }
  return corpus;
}

Corpus split_corpus(std::vector<CorpusRow> rows, std::uint64_t seed) {
  Corpus corpus;
  corpus.has_sentiment = std::any_of(rows.begin(), rows.end(), [](const CorpusRow& r) { return !r.sentiment.empty(); });
  std::unordered_set<std::string> seen;
  std::vector<CorpusRow> unique;
  for (CorpusRow& r : rows) {
    if (!seen.insert(text_key(r.text)).second) {
      ++corpus.duplicates;
      continue;
    }
    if (std::find(corpus.labels.begin(), corpus.labels.end(), r.label) == corpus.labels.end()) {
      corpus.labels.push_back(r.label);
    }
    unique.push_back(std::move(r));
  }
  Rng rng(seed, 2);
  stratified_split(std::move(unique), rng, corpus);
  for (const CorpusRow& r : corpus.train) corpus.unlabeled.push_back(r.text);
  for (const CorpusRow& r : corpus.test) {
    StreamRow s;
    s.text = r.text;
    s.kind = "in_domain";
    s.label = r.label;
    s.sentiment = r.sentiment;
    corpus.stream.push_back(std::move(s));
  }
  return corpus;
}

std::string csv_field(std::string_view value) {
  const bool quote = value.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!value.empty() && (value.front() == ' ' || value.back() == ' '));
  if (!quote) return std::string(value);
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string labeled_csv(const std::vector<CorpusRow>& rows, bool with_sentiment) {
  std::string out = with_sentiment ? "text,label,sentiment\n" : "text,label\n";
  for (const CorpusRow& r : rows) {
    out += csv_field(r.text);
    out += ',';
    out += csv_field(r.label);
    if (with_sentiment) {
      out += ',';
      out += csv_field(r.sentiment);
    }
    out += '\n';
  }
  return out;
}

std::string stream_csv(const std::vector<StreamRow>& rows) {
  std::string out = "text,kind,label,sentiment,pii\n";
  for (const StreamRow& r : rows) {
    std::string pii;
    for (const std::string& p : r.pii) pii += (pii.empty() ? "" : ";") + p;
    out += csv_field(r.text);
    out += ',';
    out += csv_field(r.kind);
    out += ',';
    out += csv_field(r.label);
    out += ',';
    out += csv_field(r.sentiment);
    out += ',';
    out += csv_field(pii);
    out += '\n';
  }
  return out;
}

std::string unlabeled_txt(const Corpus& corpus) {
  std::string out;
  for (const std::string& t : corpus.unlabeled) {
    out += t;
    out += '\n';
  }
  return out;
}

void write_corpus(const Corpus& corpus, const std::string& dir, bool force) {
  const fs::path root(dir);
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_directory(root, ec)) {
    throw Error(dir + ": exists and is not a directory");
  }
  if (!force) {
    for (const std::string_view name : kCorpusFiles) {
      const fs::path p = root / name;
      if (fs::exists(p, ec)) throw Error(p.string() + ": already exists; pass --force to overwrite");
    }
  }
  fs::create_directories(root, ec);
  if (ec) throw Error(dir + ": cannot create directory: " + ec.message());
  write_file(root / "train.csv", labeled_csv(corpus.train, corpus.has_sentiment));
  write_file(root / "val.csv", labeled_csv(corpus.val, corpus.has_sentiment));
  write_file(root / "test.csv", labeled_csv(corpus.test, corpus.has_sentiment));
  write_file(root / "unlabeled.txt", unlabeled_txt(corpus));
  write_file(root / "stream.csv", stream_csv(corpus.stream));
}

std::string corpus_summary(const Corpus& corpus) {
  std::map<std::string, std::array<std::size_t, 3>> counts;
  for (const std::string& label : corpus.labels) counts[label] = {0, 0, 0};
  for (const CorpusRow& r : corpus.train) ++counts[r.label][0];
  for (const CorpusRow& r : corpus.val) ++counts[r.label][1];
  for (const CorpusRow& r : corpus.test) ++counts[r.label][2];
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-24s %7s %7s %7s\n", "intent", "train", "val", "test");
  out += line;
  for (const std::string& label : corpus.labels) {
    const auto& c = counts[label];
    std::snprintf(line, sizeof line, "%-24s %7zu %7zu %7zu\n", label.c_str(), c[0], c[1], c[2]);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-24s %7zu %7zu %7zu\n", "total", corpus.train.size(), corpus.val.size(),
                corpus.test.size());
  out += line;
  std::map<std::string, std::size_t> kinds;
  std::map<std::string, std::size_t> pii;
  for (const StreamRow& r : corpus.stream) {
    ++kinds[r.kind];
    for (const std::string& p : r.pii) ++pii[p];
  }
  out += "\nunlabeled.txt: " + std::to_string(corpus.unlabeled.size()) + " lines (" +
         std::to_string(corpus.unlabeled.size() - corpus.unlabeled_extra) + " train texts + " +
         std::to_string(corpus.unlabeled_extra) + " extra)\n";
  out += "stream.csv: " + std::to_string(corpus.stream.size()) + " rows (";
  bool first = true;
  for (const char* k : {"in_domain", "off_topic", "complaint", "pii"}) {
    out += (first ? "" : ", ") + std::string(k) + " " + std::to_string(kinds[k]);
    first = false;
  }
  out += "); personal data:";
  for (const char* p : {"card", "iban", "email", "account", "phone"})
    out += " " + std::string(p) + " " + std::to_string(pii[p]);
  out += "\n";
  return out;
}

}  // namespace edgeroute::cli
