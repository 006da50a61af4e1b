"""A target that never listens: it sleeps until it is killed."""
import time

time.sleep(3600)
