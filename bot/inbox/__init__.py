"""The staff inbox: a web page where the clinic team sees escalations, takes a client's chat
over, replies in it, and hands it back to the bot (`aftercare inbox`, started by `run`)."""
