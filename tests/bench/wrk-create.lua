-- wrk script for `make bench`: POST /api/v1/identities, each request with its own external_ref.
-- Environment: IDV_KEY (the secret API key); IDV_BODY=bare sends the external_ref alone (no personal data,
-- so no sealed field and no blind index). Responses other than 201 are counted by wrk as non-2xx.
local bare = os.getenv("IDV_BODY") == "bare"
local counter = 0
local prefix = ""
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_no or 0))
  prefix = string.format("wrk-%d-%d-%d-", os.time(), thread_no or 0, math.random(1, 1000000000))
  wrk.method = "POST"
  wrk.path = "/api/v1/identities"
  wrk.headers["X-API-Key"] = os.getenv("IDV_KEY")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  if bare then
    return wrk.format(nil, nil, nil, string.format('{"external_ref":"%sbare-%d"}', prefix, counter))
  end
  local body = string.format(
    '{"external_ref":"%s%d","first_name":"Alice%d","last_name":"Wrk","date_of_birth":"1990-01-15",' ..
    '"email":"alice%d.%d@example.com","phone":"+1 555 010 %04d","document_number":"W%09d",' ..
    '"ssn":"123-45-%04d","address_line1":"1 Main St","city":"Springfield","zip_code":"12345","country":"US"}',
    prefix, counter, counter, counter, thread_no or 0, counter % 10000, counter, counter % 10000)
  return wrk.format(nil, nil, nil, body)
end
