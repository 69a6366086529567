-- reloadd for Neovim 0.7 or later: report each save to the project's daemon, and
-- follow its events to show the dev servers' state in the status line.
--
-- Save as ~/.config/nvim/lua/reloadd.lua, call require("reloadd").setup() in init.lua,
-- and put %{v:lua.require'reloadd'.statusline()} in your 'statusline'. setup() takes
-- { command = "reloadd", root = nil, follow = true, max_delay_ms = 30000 }: command is
-- the full path of reloadd if it is not on Neovim's PATH, root the project (default:
-- the working folder's). See reloadd's docs/editors.md.
local M = {}

local config = { command = "reloadd", root = nil, follow = true, max_delay_ms = 30000 }
local servers = {} -- name -> { name, pid, role, state, duration_ms, error }
local follower = nil -- the job id of `reloadd events --json`, while it runs
local delay_ms = 1000 -- the wait before the next restart of the follower
local stopping = false
local text = ""

local function describe(server)
  local err = server.error
  if server.state == "crashed" and type(err) == "table" then
    if type(err.file) == "string" and err.file ~= "" then
      local where = vim.fn.fnamemodify(err.file, ":~:.")
      return ("%s: crashed at %s:%d"):format(server.name, where, tonumber(err.line) or 0)
    end
    return ("%s: crashed (%s)"):format(server.name, tostring(err.type))
  end
  return ("%s: %s"):format(server.name, server.state or "connected")
end

-- The dev servers among the clients (those of role server, and any that reported a
-- state), sorted by name.
local function shown()
  local list = {}
  for _, server in pairs(servers) do
    if server.role == "server" or server.state then
      table.insert(list, server)
    end
  end
  table.sort(list, function(a, b)
    return a.name < b.name
  end)
  return list
end

local function refresh()
  text = table.concat(vim.tbl_map(describe, shown()), ", ")
  vim.cmd("redrawstatus!")
end

-- Dev servers are shown by name: a restarted process takes over its name's entry.
local function on_event(event)
  local name, server = event.client, servers[event.client or ""]
  if event.event == "resubscribed" then
    servers = {} -- the daemon restarted: every client it knows of follows
  elseif event.event == "events-dropped" then
    -- This editor fell behind and missed events: follow again, for a fresh snapshot.
    if follower then
      vim.fn.jobstop(follower)
    end
    return
  elseif type(name) ~= "string" then
    return -- changed: nothing the status line shows
  elseif event.event == "client-joined" then
    server = server or { name = name }
    server.pid, server.role = event.pid, event.role
    servers[name] = server
  elseif event.event == "client-left" then
    if server and server.pid == event.pid then
      servers[name] = nil
    end
  elseif event.event == "state" then
    server = server or { name = name }
    server.pid, server.role = event.pid, event.role or server.role
    server.state, server.duration_ms, server.error = event.state, event.duration_ms, event.error
    servers[name] = server
  else
    return -- saved: nothing the status line shows
  end
  refresh()
end

local function decode(line)
  local ok, event = pcall(vim.fn.json_decode, line)
  if ok and type(event) == "table" then
    return event
  end
end

local follow

local function on_exit()
  follower = nil
  servers = {}
  refresh()
  if not stopping then
    vim.defer_fn(follow, delay_ms)
    delay_ms = math.min(delay_ms * 2, config.max_delay_ms)
  end
end

follow = function()
  if stopping or follower then
    return
  end
  local partial = ""
  local command = { config.command, "events", "--json" }
  if config.root then
    vim.list_extend(command, { "--root", config.root })
  end
  local ok, job = pcall(vim.fn.jobstart, command, {
    on_stdout = function(_, data)
      data[1] = partial .. data[1]
      partial = table.remove(data) -- what follows the last newline: an incomplete line
      for _, line in ipairs(data) do
        local event = decode(line)
        if event then
          delay_ms = 1000 -- connected: the next restart, if one is needed, comes soon
          on_event(event)
        end
      end
    end,
    on_exit = on_exit,
  })
  if ok and job > 0 then
    follower = job
  else
    on_exit() -- not executable: try again later, less and less often
  end
end

--- The dev servers' state, e.g. "web: ready, worker: crashed at app/tasks.py:12".
function M.statusline()
  return text
end

--- Every dev server the daemon knows of, with its last reported state and error.
function M.servers()
  return vim.deepcopy(servers)
end

--- The process id of `reloadd events`, or nil while none runs.
function M.follower_pid()
  -- jobpid() fails for a job that ended and whose on_exit has not run yet.
  local ok, pid = pcall(vim.fn.jobpid, follower or -1)
  if ok then
    return pid
  end
end

--- Tell the daemon that `path` was just written; in the background, output ignored.
function M.changed(path)
  vim.fn.jobstart({ config.command, "changed", "--quiet", path }, {
    cwd = vim.fn.fnamemodify(path, ":h"),
  })
end

--- Stop following the daemon's events (the status line then shows nothing).
function M.stop()
  stopping = true
  if follower then
    vim.fn.jobstop(follower)
  end
end

--- Report saves, follow the events, and define :ReloaddStatus; options as above.
function M.setup(options)
  config = vim.tbl_extend("force", config, options or {})
  local group = vim.api.nvim_create_augroup("reloadd", { clear = true })
  vim.api.nvim_create_autocmd("BufWritePost", {
    group = group,
    callback = function(args)
      if vim.bo[args.buf].buftype == "" then
        M.changed(vim.fn.fnamemodify(args.file, ":p"))
      end
    end,
  })
  vim.api.nvim_create_autocmd("VimLeavePre", { group = group, callback = M.stop })
  vim.api.nvim_create_user_command("ReloaddStatus", function()
    for _, server in ipairs(shown()) do
      local line, err = describe(server), server.error
      if type(err) == "table" then
        line = ("%s: %s: %s"):format(line, tostring(err.type), tostring(err.message))
      elseif server.duration_ms then
        line = ("%s in %d ms"):format(line, server.duration_ms)
      end
      print(line)
    end
  end, {})
  if config.follow then
    stopping = false
    follow()
  end
end

return M
