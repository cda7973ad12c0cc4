-- wrk script for `make bench`: GET /api/v1/identities/{id} over ids picked at random from a file.
-- Environment: IDV_KEY (the secret API key), IDV_IDS (a file with one identity id per line).
local ids = {}

function init(args)
  for line in io.lines(os.getenv("IDV_IDS")) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  math.randomseed(os.time() * 1000 + math.random(1, 1000))
  wrk.headers["X-API-Key"] = os.getenv("IDV_KEY")
end

function request()
  return wrk.format("GET", "/api/v1/identities/" .. ids[math.random(1, #ids)])
end
